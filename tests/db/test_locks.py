"""The deployment's lock on a piece of work: one transaction at a time holds it, on real
PostgreSQL; SQLite, with one hub per deployment, always does the work."""

from __future__ import annotations

from pathlib import Path

from cellhub.db import locks
from cellhub.db.database import make_engine, upgrade
from cellhub.db.kernels import KernelRepository
from tests.db.postgres import running_postgres


def test_one_transaction_at_a_time_holds_the_lock_on_postgresql(tmp_path: Path) -> None:
    with running_postgres(tmp_path / "pg") as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as first:
            assert locks.once(first, "reconcile worker w")
            with engine.begin() as second:
                assert not locks.once(second, "reconcile worker w")
                assert locks.once(second, "reconcile worker v")
            assert KernelRepository(engine).reconcile("w", set(), set(), "lost", "gone") is None
        with engine.begin() as later:
            assert locks.once(later, "reconcile worker w")
        assert KernelRepository(engine).reconcile("w", set(), set(), "lost", "gone") is not None
        engine.dispose()


def test_sqlite_always_does_the_work(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as first, engine.begin() as second:
        assert locks.once(first, "reconcile worker w") and locks.once(second, "reconcile worker w")
    engine.dispose()


def test_every_hub_and_release_hashes_a_name_to_the_same_key() -> None:
    """Not Python's hash(), which differs from process to process."""
    assert locks.key("reconcile worker 127.0.0.1:7000") == -532672246198789980
