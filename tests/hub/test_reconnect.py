"""Reconnect without loss: numbered output, replayed exactly once after a hub restart."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.conftest import start_cellhub
from tests.db.postgres import free_port
from tests.hubs import Received, print_until_killed, resume_printing, start_hub, start_worker
from tests.kernel_client import Hub


@pytest.fixture(params=["tls", "unix"])
def worker_address(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A worker of its own, outliving the hubs the test starts and kills; hubs reach it over
    TCP with mutual TLS, or through its Unix socket."""
    process, address = start_worker(tmp_path, unix=request.param == "unix")
    yield address
    process.terminate()
    process.wait(15)


async def test_output_survives_a_hub_restart(tmp_path: Path, worker_address: str) -> None:
    port = free_port()
    first = start_hub(tmp_path, worker_address, port, "t0ken")
    received = Received()
    try:
        hub = Hub(first.url, first.token)
        kernel_id = await hub.start_kernel()
        await hub.aclose()
        await print_until_killed(first, kernel_id, received)
    finally:
        first.stop()  # killed already, unless the test failed before
    second = start_hub(tmp_path, worker_address, port, "t0ken")
    try:
        await resume_printing(second, kernel_id, received)
    finally:
        second.stop()


async def test_outrun_buffer_says_how_much_was_lost(tmp_path: Path) -> None:
    server = start_cellhub(tmp_path / "data", env={"CELLHUB_REPLAY_BUFFER": "65536"})
    try:
        hub = Hub(server.url, server.token)
        kernel_id, kernel = await hub.kernel()
        await hub.aclose()
        done = await kernel.execute("for i in range(20000): print(i)")
        assert done.reply is not None
        await kernel.close()
        url = server.url.replace("http", "ws", 1)
        ws = await websockets.connect(
            f"{url}api/kernels/{kernel_id}/channels?token={server.token}&resume=0"
        )
        notice = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert notice["header"]["msg_type"] == "stream" and notice["content"]["name"] == "stderr"
        assert re.search(r"\d+ output message\(s\) .* lost", notice["content"]["text"])
        following = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert following["cellhub_seq"] > 1
        await ws.close()
    finally:
        server.stop()


def test_hub_command_needs_workers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "hub", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "--workers" in done.stderr
