"""Hubs and a worker as processes of their own, for tests that kill a hub and go on through
another (restarted on the same port, or a second hub on the same database): the worker
outlives them, and so do its kernels."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from tests.conftest import RunningHub, launch, start_cellhub
from tests.kernel_client import KernelClient, request_message
from tests.polling import until

READY = re.compile(r'"address":"([^"]+)"')
LINES = 10**5
#: Prints LINES lines, slowly enough that a hub can be killed while they stream.
PRINT_SLOWLY = (
    f"import time\nfor i in range({LINES}):\n    print(i)\n    if i % 1000 == 0: time.sleep(0.01)"
)


def start_worker(data_dir: Path, unix: bool = False) -> tuple[subprocess.Popen[str], str]:
    """A worker and the address hubs reach it at: TCP with mutual TLS (its certificates in
    ``data_dir``, where hubs started on the same ``data_dir`` find theirs), or with ``unix``
    its Unix socket."""
    argv = ["worker", "--data-dir", str(data_dir)]
    if unix:
        argv += ["--worker-socket", str(data_dir / "w.sock")]
    process, match, _ = launch(argv, READY, {})
    assert match.group(1).startswith("unix:") == unix
    return process, match.group(1)


def start_hub(
    data_dir: Path, worker: str, port: int, token: str, env: dict[str, str] | None = None
) -> RunningHub:
    """``cellhub hub`` for ``worker`` on ``port``; ``env``: more settings (CELLHUB_…)."""
    argv = ["hub", "--data-dir", str(data_dir), "--workers", worker, "--port", str(port)]
    return start_cellhub(data_dir, env={"CELLHUB_TOKEN": token, **(env or {})}, argv=argv)


async def collect(kernel: KernelClient, lines: list[str], seqs: list[int]) -> bool:
    """Read stream output until the execute_reply; False if the connection dropped first."""
    try:
        while True:
            msg = json.loads(await asyncio.wait_for(kernel.ws.recv(), 60))
            seqs.append(msg["cellhub_seq"])
            if msg["header"]["msg_type"] == "stream":
                lines.append(msg["content"]["text"])
            if msg["header"]["msg_type"] == "execute_reply":
                return True
    except websockets.exceptions.ConnectionClosed:
        return False


@dataclass
class Received:
    """The stream text and the message numbers a client received, across its connections."""

    lines: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)


async def print_until_killed(hub: RunningHub, kernel_id: str, received: Received) -> None:
    """Run PRINT_SLOWLY through ``hub`` and SIGKILL the hub while its output streams."""
    kernel = await KernelClient.connect(hub.url, hub.token, kernel_id)
    await kernel.send(request_message("execute_request", {"code": PRINT_SLOWLY}))
    reader = asyncio.create_task(collect(kernel, received.lines, received.seqs))
    await until(lambda: bool(received.lines), "output streaming", timeout=60)
    os.kill(hub.process.pid, signal.SIGKILL)
    hub.process.wait()
    assert await reader is False, "the output should still have been streaming"
    assert received.seqs


async def resume_printing(hub: RunningHub, kernel_id: str, received: Received) -> None:
    """Reconnect through ``hub`` after the last message received, read on to the reply: every
    line arrived exactly once, in order."""
    url = hub.url.replace("http", "ws", 1)
    ws = await websockets.connect(
        f"{url}api/kernels/{kernel_id}/channels?token={hub.token}&resume={received.seqs[-1]}",
        max_size=None,
    )
    assert await collect(KernelClient(ws), received.lines, received.seqs) is True
    await ws.close()
    assert "".join(received.lines) == "".join(f"{i}\n" for i in range(LINES))
    seqs = received.seqs
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "each message exactly once, in order"
