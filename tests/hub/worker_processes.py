"""Real ``cellhub worker`` processes for hub tests, and a ``cellhub hub`` over them.

Workers listen on Unix sockets and load no module before forking, so that they start in
moments; a test looks at a worker's kernels through a connection of its own, as a second
hub would (:func:`linked`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

from cellhub.hub.workers import WorkerLink
from tests.conftest import RunningHub, launch, start_cellhub
from tests.kernel_client import Hub

READY = re.compile(r'"address":"([^"]+)"')
LIGHT = {"CELLHUB_PRELOAD": "", "CELLHUB_SPARE_SESSIONS": "1"}


class Workers:
    """``cellhub worker`` processes of one test, stopped (with what they started) at its end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, subprocess.Popen[str]] = {}
        #: What each worker printed, for a failure's message (the last one at an address).
        self.output: dict[str, list[str]] = {}
        self.left: list[psutil.Process] = []

    def start(self, name: str, max_sessions: int, load_interval: float = 1.0) -> str:
        data = self.root / name
        env = {
            "CELLHUB_MAX_SESSIONS": str(max_sessions),
            "CELLHUB_LOAD_INTERVAL": str(load_interval),
        }
        return self.run(data, ["--worker-socket", str(data / "w.sock")], env)

    def run(self, data: Path, flags: list[str], env: dict[str, str]) -> str:
        """A worker keeping its data in ``data``, started with ``flags`` and the settings
        ``env`` (beside light ones); its address."""
        argv = ["worker", "--data-dir", str(data), *flags]
        process, match, output = launch(argv, READY, {**LIGHT, **env})
        self.processes[match.group(1)] = process
        self.output[match.group(1)] = output
        return match.group(1)

    def family(self, process: subprocess.Popen[str]) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            children: list[psutil.Process] = psutil.Process(process.pid).children(recursive=True)
            return children
        return []

    def kill(self, address: str) -> None:
        process = self.processes[address]
        self.left += self.family(process)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            self.left += self.family(process)
            process.terminate()
            process.send_signal(signal.SIGCONT)  # a test may have stopped it
            process.wait(15)
        psutil.wait_procs(self.left, timeout=15)
        for left in self.left:
            with contextlib.suppress(psutil.NoSuchProcess):
                left.kill()


@contextlib.asynccontextmanager
async def hub_with(
    tmp_path: Path, *options: str, env: dict[str, str] | None = None, name: str = "hub"
) -> AsyncIterator[RunningHub]:
    """A ``cellhub hub`` with ``options`` (its workers) and the settings ``env``, keeping its
    data in ``name``; started in a thread, so that this event loop can go on (relaying,
    say) meanwhile."""
    data = tmp_path / name
    argv = ["hub", "--data-dir", str(data), "--port", "0", *options]
    running = await asyncio.to_thread(start_cellhub, data, env, argv)
    try:
        yield running
    finally:
        running.stop()


def hub_over(
    tmp_path: Path, *worker_addresses: str, env: dict[str, str] | None = None, name: str = "hub"
) -> contextlib.AbstractAsyncContextManager[RunningHub]:
    """A hub over a fixed list of workers (see :func:`hub_with`)."""
    return hub_with(tmp_path, "--workers", ",".join(worker_addresses), env=env, name=name)


@contextlib.asynccontextmanager
async def linked(address: str) -> AsyncIterator[WorkerLink]:
    """A connection of the test's own to a worker, as another hub's."""
    link = WorkerLink(address, ssl.create_default_context(), lambda *_: None)
    await link.start(timeout=60)
    try:
        yield link
    finally:
        await link.stop()


async def kernels_on(address: str) -> int:
    async with linked(address) as link:
        return len(await link.list_kernels())


async def start(hub: Hub) -> Any:
    """``POST /api/kernels``'s answer, whatever it is."""
    return await hub.http.post("/api/kernels", json={"name": "python3"}, timeout=60)
