"""Admin drains (hub/drains.py) are the database's: a drain made through one hub holds on
every hub within a poll, survives a restart, and activating undoes it everywhere. On SQLite
and on PostgreSQL (tests/hub/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cellhub.db.database import make_engine, upgrade
from cellhub.db.worker_drains import WorkerDrainRepository
from cellhub.hub.drains import POLL, AdminDrains
from cellhub.hub.placement import KernelPlacement
from tests.polling import until

pytestmark = pytest.mark.both_databases

WORKER = "unix:/run/cellhub/worker.sock"


async def test_a_drain_through_one_hub_holds_on_every_hub(
    tmp_path: Path, database_url: str
) -> None:
    engine = make_engine(database_url or f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    one, other = (AdminDrains(WorkerDrainRepository(engine), KernelPlacement([])) for _ in "12")
    await one.start()
    await other.start()
    try:
        await one.drain(WORKER, "root")
        assert not one.placement.taking(WORKER)
        await until(lambda: WORKER in other.placement.held, "the other hub sees it", 3 * POLL)
        restarted = AdminDrains(WorkerDrainRepository(engine), KernelPlacement([]))
        await restarted.refresh()
        assert restarted.placement.held == {WORKER}
        await other.activate(WORKER, "root")
        await until(lambda: one.placement.taking(WORKER), "the first hub sees it", 3 * POLL)
    finally:
        await one.stop()
        await other.stop()
        engine.dispose()
