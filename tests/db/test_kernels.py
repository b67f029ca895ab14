"""Kernel records of a worker lost and back: ended together, and reconciled with what the
worker runs when it returns (revived if ended as unreachable, ended if it no longer runs them)."""

from __future__ import annotations

from pathlib import Path

from cellhub.db.database import make_engine, upgrade
from cellhub.db.kernels import KernelRepository, Reconciled

LOST = "its host is unreachable"


def states(repo: KernelRepository, *ids: str) -> list[tuple[str, str]]:
    records = [repo.get(kernel_id) for kernel_id in ids]
    return [(r.state, r.reason) if r else ("none", "") for r in records]


def test_a_lost_worker_and_its_return(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    repo = KernelRepository(engine)
    for kernel_id, worker in [("a", "w"), ("b", "w"), ("c", "w"), ("x", "other")]:
        repo.add(kernel_id, "python3", worker)
    repo.end("c", "shut down by request")
    repo.end_on_worker("w", LOST)
    assert states(repo, "a", "b", "c", "x") == [
        ("dead", LOST),
        ("dead", LOST),
        ("dead", "shut down by request"),
        ("idle", ""),
    ]
    repo.add("d", "python3", "w")  # started on w by a hub that had not lost it
    repo.add("e", "python3", "w")  # recorded after w said what it runs: maybe starting
    running = {"a", "c", "x"}
    assert repo.reconcile("w", running, {"b", "d"}, LOST, "gone") == Reconciled(["a"], ["d"])
    assert states(repo, "a", "b", "c", "d", "e", "x") == [
        ("idle", ""),
        ("dead", LOST),
        ("dead", "shut down by request"),
        ("dead", "gone"),
        ("idle", ""),
        ("idle", ""),
    ]
    record = repo.get("a")
    assert record is not None and record.ended is None
    assert repo.reconcile("w", running, {"b", "d"}, LOST, "gone") == Reconciled([], [])
    engine.dispose()
