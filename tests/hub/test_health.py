"""``/api/health`` and ``/api/health/live`` (hub/health_api.py): a hub is ready while its
database answers and a worker is connected, and says which is missing when it is not.

In process for the database's failures (a PostgreSQL address where nothing listens, and one
that never answers); with a real ``cellhub hub`` and ``cellhub worker`` for a worker that
dies and comes back. A database that answers is SQLite and PostgreSQL (tests/hub/conftest.py).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette

from cellhub.db.database import make_engine
from cellhub.hub.health_api import DatabaseProbe
from tests.db.postgres import free_port
from tests.hub.in_process import HUB, in_process_hub
from tests.hub.worker_processes import Workers, hub_over
from tests.polling import until

pytestmark = pytest.mark.both_databases


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB)


async def test_without_a_worker_the_hub_is_live_but_not_ready(tmp_path: Path) -> None:
    app = in_process_hub(tmp_path)
    async with client(app) as http:
        health = await http.get("/api/health")
        live = await http.get("/api/health/live")
    assert health.status_code == 503
    assert health.json() == {
        "ready": False,
        "database": True,
        "workers": {"connected": 0, "known": 0},
        "problems": ["no worker connected (0 known)"],
    }
    assert live.status_code == 200 and live.json() == {"live": True}


@pytest.mark.sqlite_only("the hub's database is replaced by an address where none listens")
async def test_a_database_nobody_listens_at_is_unreachable(tmp_path: Path) -> None:
    app = in_process_hub(tmp_path)
    url = f"postgresql+psycopg://cellhub:secret@127.0.0.1:{free_port()}/postgres"
    app.state.database_probe = DatabaseProbe(make_engine(url))
    async with client(app) as http:
        health = await http.get("/api/health")
        live = await http.get("/api/health/live")
    assert health.status_code == 503
    assert health.json()["database"] is False
    assert "the database is unreachable" in health.json()["problems"]
    assert "secret" not in health.text and "127.0.0.1" not in health.text
    assert live.status_code == 200


@pytest.mark.sqlite_only("no hub database: a socket that never answers")
async def test_a_silent_database_holds_one_query_at_a_time() -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"postgresql+psycopg://cellhub@127.0.0.1:{listener.getsockname()[1]}/postgres"
        probe = DatabaseProbe(make_engine(url), timeout=0.3, reuse=0.0)
        first = await probe.problem()
        assert first == "the database did not answer within 0.3 s"
        hung = probe.query
        assert hung is not None and not hung.done()
        assert list(await asyncio.gather(probe.problem(), probe.problem())) == [first, first]
        assert probe.query is hung, "a second query while the first hangs"
        accepted, _ = listener.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        accepted.close()  # a reset: the hung query fails now rather than at psycopg's timeout
    with pytest.raises(OperationalError):
        await asyncio.wait_for(hung, 30)


async def test_answers_are_reused_for_a_while(tmp_path: Path, database_url: str) -> None:
    engine = make_engine(database_url or f"sqlite:///{tmp_path / 'db.sqlite'}")
    probe = DatabaseProbe(engine, reuse=3600)
    try:
        assert await probe.problem() is None
        asked = probe.query
        assert await probe.problem() is None
        assert probe.query is asked
    finally:
        engine.dispose()


@pytest.mark.sqlite_only("real hub and worker processes, testing the worker's part")
async def test_ready_until_the_only_worker_dies_and_again_once_it_is_back(tmp_path: Path) -> None:
    workers = Workers(tmp_path / "workers")
    try:
        await worker_comes_and_goes(tmp_path, workers)
    finally:
        workers.stop()


async def worker_comes_and_goes(tmp_path: Path, workers: Workers) -> None:
    address = workers.start("only", max_sessions=4)
    async with hub_over(tmp_path, address) as running, httpx.AsyncClient() as http:
        health = f"{running.url}api/health"
        ready = await http.get(health)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "ready": True,
            "database": True,
            "workers": {"connected": 1, "known": 1},
            "problems": [],
        }

        async def answers(status: int) -> bool:
            return (await http.get(health)).status_code == status

        workers.kill(address)
        workers.processes[address].wait(15)
        await until(lambda: answers(503), "the hub reports its worker gone", timeout=30)
        assert (await http.get(health)).json()["problems"] == ["no worker connected (1 known)"]
        assert (await http.get(f"{running.url}api/health/live")).status_code == 200
        workers.start("only", max_sessions=4)
        await until(lambda: answers(200), "the hub is ready with its worker back", timeout=60)
