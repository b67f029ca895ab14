from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from cellhub.db.database import make_engine, upgrade
from cellhub.db.kernels import KernelRepository


def test_upgrade_creates_the_kernels_table_and_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("kernels")}
    assert {"id", "worker", "state", "created", "last_activity"} <= columns


def test_repository_round_trip(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    repo = KernelRepository(engine)
    repo.add("k1", "python3", "127.0.0.1:1")
    repo.add("k2", "python3", "127.0.0.1:2")
    assert [k.id for k in repo.live()] == ["k1", "k2"]
    repo.end("k1", "test")
    record = repo.get("k1")
    assert record is not None and record.state == "dead" and record.reason == "test"
    repo.end("k2", "worker gone")
    assert repo.live() == []


def test_cli_db_upgrade(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "db", "upgrade", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "up to date" in done.stdout
    assert (tmp_path / "cellhub.sqlite").exists()


def test_postgresql(tmp_path: Path) -> None:
    """The same migrations and repository on a real PostgreSQL server."""
    from tests.db.postgres import running_postgres

    with running_postgres(tmp_path / "pg") as url:
        engine = make_engine(url)
        upgrade(engine)
        repo = KernelRepository(engine)
        repo.add("k1", "python3", "w1")
        assert [k.id for k in repo.live()] == ["k1"]
        repo.end("k1", "done")
        record = repo.get("k1")
        assert record is not None and record.state == "dead"
        assert record.created.tzinfo is not None
        engine.dispose()
