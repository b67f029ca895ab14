"""Reconnect without loss: numbered output, replayed exactly once after a hub restart."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.conftest import launch, start_cellhub
from tests.db.postgres import free_port
from tests.hubs import LONG_PRINT, LONG_PRINT_OUTPUT, collect, start_hub
from tests.kernel_client import Hub, KernelClient, request_message
from tests.polling import until

READY = re.compile(r'"address":"([^"]+)"')


@pytest.fixture(params=["tls", "unix"])
def worker_address(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A worker of its own, outliving the hubs the test starts and kills; hubs reach it over
    TCP with mutual TLS, or through its Unix socket."""
    argv = ["worker", "--data-dir", str(tmp_path)]
    if request.param == "unix":
        argv += ["--worker-socket", str(tmp_path / "w.sock")]
    process, match, _ = launch(argv, READY, {})
    assert match.group(1).startswith("unix:") == (request.param == "unix")
    yield match.group(1)
    process.terminate()
    process.wait(15)


async def test_output_survives_a_hub_restart(tmp_path: Path, worker_address: str) -> None:
    port = free_port()
    first = start_hub(tmp_path, worker_address, port, "t0ken")
    hub = Hub(first.url, first.token)
    kernel_id = await hub.start_kernel()
    await hub.aclose()
    kernel = await KernelClient.connect(first.url, first.token, kernel_id)
    await kernel.send(request_message("execute_request", {"code": LONG_PRINT}))
    texts: list[str] = []
    seqs: list[int] = []
    reader = asyncio.create_task(collect(kernel, texts, seqs))
    await until(lambda: bool(texts), "output streaming", timeout=60)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    assert await reader is False, "the output should still have been streaming"
    assert seqs

    second = start_hub(tmp_path, worker_address, port, "t0ken")
    try:
        url = second.url.replace("http", "ws", 1)
        ws = await websockets.connect(
            f"{url}api/kernels/{kernel_id}/channels?token=t0ken&resume={seqs[-1]}", max_size=None
        )
        assert await collect(KernelClient(ws), texts, seqs) is True
        await ws.close()
    finally:
        second.stop()
    assert "".join(texts) == LONG_PRINT_OUTPUT
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "each message exactly once, in order"


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
