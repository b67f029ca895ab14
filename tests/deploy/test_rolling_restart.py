"""``cellhub restart hub`` with two hubs behind a real HAProxy, all on one host through
``cellhub up`` (deploy/rolling_restart.py): a client running cells through HAProxy all along
sees no error (every REST request answered 200, every reconnection accepted at once, and
HAProxy always has a hub in service) and loses no output (after each dropped connection it
resumes with ``?resume=N``, as the UI does, and receives every line of every cell exactly
once, in order)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from cellhub.deploy.haproxy_runtime import hub_states
from cellhub.deploy.postgres import pg_bindir
from tests.deploy.haproxy import needs_haproxy
from tests.deploy.launched import launched, ports, service
from tests.kernel_client import request_message

pytestmark = [
    needs_haproxy,
    pytest.mark.skipif(pg_bindir() is None, reason="PostgreSQL is not installed"),
]

LINES = 1500
#: A cell that prints LINES numbered lines over a few seconds: hubs restart in its middle.
CELL = f"import time\nfor i in range({LINES}):\n    print(i)\n    time.sleep(0.002)"
OUTPUT = "".join(f"{i}\n" for i in range(LINES))


@dataclass
class Client:
    """A person's page: one kernel through HAProxy, its socket resumed after each drop."""

    base: str
    token: str
    kernel_id: str
    #: The number of the last message received, to resume after.
    last: int = 0
    drops: int = 0
    cells: list[str] = field(default_factory=list)

    async def connect(self) -> websockets.ClientConnection:
        url = self.base.replace("http", "ws", 1)
        query = f"token={self.token}" + (f"&resume={self.last}" if self.last else "")
        return await websockets.connect(
            f"{url}api/kernels/{self.kernel_id}/channels?{query}", max_size=None
        )

    async def run_cell(self, ws: websockets.ClientConnection) -> websockets.ClientConnection:
        """Run CELL to its execute_reply, reconnecting as often as the connection drops."""
        await ws.send(json.dumps(request_message("execute_request", {"code": CELL})))
        text: list[str] = []
        while True:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except websockets.exceptions.ConnectionClosed:
                self.drops += 1
                ws = await self.connect()  # any failure here is an error the client saw
                continue
            assert msg["cellhub_seq"] == self.last + 1 or not self.last, "a message lost or twice"
            self.last = msg["cellhub_seq"]
            if msg["header"]["msg_type"] == "stream":
                text.append(msg["content"]["text"])
            if msg["header"]["msg_type"] == "execute_reply":
                self.cells.append("".join(text))
                return ws


async def rest_calls(base: str, token: str, done: asyncio.Event) -> list[int]:
    """GET /api/kernels through HAProxy until ``done``: every answer's status."""
    statuses = []
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        while not done.is_set():
            statuses.append((await http.get("api/kernels", timeout=30)).status_code)
            await asyncio.sleep(0.05)
    return statuses


async def haproxy_views(stats: str, done: asyncio.Task[Any]) -> list[dict[str, str]]:
    """HAProxy's view of the hubs (UP, DRAIN, DOWN, UP 1/2 on the way down, …) every 0.2 s
    until ``done``."""
    views = []
    while not done.done():
        views.append(await asyncio.to_thread(hub_states, stats))
        await asyncio.sleep(0.2)
    return views


async def test_clients_see_no_error_and_lose_nothing(tmp_path: Path) -> None:
    database, worker, hub1, hub2, front, stats = ports(6)
    tables = (
        service("postgresql", database)
        + service("worker", worker)
        + service("hub", hub1, name="hub1")
        + service("hub", hub2, name="hub2")
        + service("haproxy", front, stats_port=stats)
    )
    with launched(tmp_path, tables) as deployment:
        deployment.cellhub("up")
        base, token = f"http://127.0.0.1:{front}/", deployment.token()
        async with httpx.AsyncClient(base_url=base) as http:
            created = await http.post(
                "api/kernels", json={"name": "python3"}, headers={"Authorization": f"token {token}"}
            )
        assert created.status_code == 201, created.text
        client = Client(base, token, created.json()["id"])
        done = asyncio.Event()
        rest = asyncio.create_task(rest_calls(base, token, done))
        restart = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cellhub",
            "restart",
            "hub",
            "--deployment",
            str(deployment.file),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        restarting = asyncio.create_task(restart.communicate())
        views = asyncio.create_task(haproxy_views(f"127.0.0.1:{stats}", restarting))
        ws = await client.connect()
        while not restarting.done():
            ws = await client.run_cell(ws)
        ws = await client.run_cell(ws)  # and one more, on the hubs as they now are
        await ws.close()
        done.set()
        output = (await restarting)[0].decode()
        assert restart.returncode == 0, output
        assert output.count("in service at 1 HAProxy") == 2, output
        assert client.drops >= 1, "the client's hub was restarted: its socket dropped"
        seen = await views
        # Whatever the timing, HAProxy always had a hub fully in service (not one on its way
        # down or up, "UP 1/2"), and each hub was out of it in turn.
        assert all("UP" in view.values() for view in seen), seen
        for hub in ("hub1", "hub2"):
            assert any(view[hub] != "UP" for view in seen), seen
        assert client.cells == [OUTPUT] * len(client.cells)
        statuses = await rest
        assert set(statuses) == {200}
