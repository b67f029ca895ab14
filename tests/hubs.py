"""Hubs started and left as the reconnect tests need them: a ``cellhub hub`` on a port of the
test's choosing (so a second hub can take the place of a killed one), and a client that
reads a long numbered print until its reply, telling whether the connection dropped first.

Shared by the reconnect test on one host and the cluster test's across hosts; and, with a
worker of their own that outlives the hubs (and so do its kernels), by the tests of several
hubs on one database and of pages that reconnect by themselves.
"""

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

#: A print of 10**5 numbered lines, slow enough that a hub can be killed in the middle of it.
LONG_PRINT = (
    "import time\nfor i in range(10**5):\n    print(i)\n    if i % 1000 == 0: time.sleep(0.01)"
)
#: Everything LONG_PRINT prints, each line exactly once.
LONG_PRINT_OUTPUT = "".join(f"{i}\n" for i in range(10**5))


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


READY = re.compile(r'"address":"([^"]+)"')


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


@dataclass
class Received:
    """The stream text and the message numbers a client received, across its connections."""

    lines: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)


async def print_until_killed(hub: RunningHub, kernel_id: str, received: Received) -> None:
    """Run LONG_PRINT through ``hub`` and SIGKILL the hub while its output streams."""
    kernel = await KernelClient.connect(hub.url, hub.token, kernel_id)
    await kernel.send(request_message("execute_request", {"code": LONG_PRINT}))
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
    assert "".join(received.lines) == LONG_PRINT_OUTPUT
    seqs = received.seqs
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "each message exactly once, in order"
