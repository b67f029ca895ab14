"""Kernels spread over real workers by their load: a hub fills workers evenly, passes a start
that meets a full or dead worker to the next without the client noticing, and answers 503
only when every worker is full.

Each test runs ``cellhub worker`` processes on Unix sockets and one ``cellhub hub`` over them,
and looks at each worker's kernels through a connection of its own, as a second hub would.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from cellhub.hub.workers import WorkerLink
from cellhub.protocol import addresses, framing, hub_worker
from tests.conftest import RunningHub, launch, start_cellhub
from tests.kernel_client import Hub

READY = re.compile(r'"address":"([^"]+)"')
#: The operations the relay looks at: a load report, and a reply (which may be a failure).
LOAD = hub_worker.load(hub_worker.Load(0, 0, 0, 0, 0))[0]
REPLY = hub_worker.reply(0, None)[0]
LIGHT = {"CELLHUB_PRELOAD": "", "CELLHUB_SPARE_SESSIONS": "1"}


class Workers:
    """``cellhub worker`` processes of one test, stopped (with what they started) at its end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, subprocess.Popen[str]] = {}
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
        process, match, _ = launch(argv, READY, {**LIGHT, **env})
        self.processes[match.group(1)] = process
        return match.group(1)

    def family(self, process: subprocess.Popen[str]) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(process.pid).children(recursive=True)
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


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    yield started
    started.stop()


@contextlib.asynccontextmanager
async def hub_over(
    tmp_path: Path, *worker_addresses: str, env: dict[str, str] | None = None, name: str = "hub"
) -> AsyncIterator[RunningHub]:
    """A hub over the workers, with the settings ``env``, keeping its data in ``name``;
    started in a thread, so that this event loop can relay."""
    data = tmp_path / name
    argv = ["hub", "--data-dir", str(data), "--port", "0", "--workers", ",".join(worker_addresses)]
    running = await asyncio.to_thread(start_cellhub, data, env, argv)
    try:
        yield running
    finally:
        running.stop()


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
    return await hub.http.post("/api/kernels", json={"name": "python3"}, timeout=60)


async def test_kernels_fill_workers_evenly_and_then_503(tmp_path: Path, workers: Workers) -> None:
    a, b = workers.start("a", 3), workers.start("b", 3)
    async with hub_over(tmp_path, a, b) as running:
        hub = Hub(running.url, running.token)
        try:
            for _ in range(6):
                assert (await start(hub)).status_code == 201
            assert [await kernels_on(a), await kernels_on(b)] == [3, 3]
            refused = await start(hub)
        finally:
            await hub.aclose()
    assert refused.status_code == 503
    assert "every worker is full (2 workers, 3 sessions each)" in refused.json()["message"]


class Relay:
    """Passes frames between a hub and a worker, but only the worker's first load report:
    the hub goes on believing the worker as free as it was then. Keeps the statuses of the
    worker's failed replies."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.failures: list[int] = []
        self.loads = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay until either side closes (the hub's leaving must end it: the worker
        outlives the test's event loop)."""
        upstream, downstream = await addresses.connect(self.worker, ssl.create_default_context())
        asking = asyncio.ensure_future(self.pass_on(reader, downstream, lambda _: True))
        answering = asyncio.ensure_future(self.pass_on(upstream, writer, self.heard))
        try:
            await asyncio.wait({asking, answering}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            asking.cancel()
            answering.cancel()
            writer.close()
            downstream.close()

    @staticmethod
    async def pass_on(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: Any
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                frame = await framing.read_frame(reader)
                if keep(frame):
                    writer.write(framing.encode(frame))

    def heard(self, frame: Any) -> bool:
        if frame[0] == LOAD:
            self.loads += 1
            return self.loads == 1
        if frame[0] == REPLY and frame[2] is False:
            self.failures.append(int(frame[3]["status"]))
        return True


async def test_a_start_that_meets_a_full_worker_goes_to_the_next(
    tmp_path: Path, workers: Workers
) -> None:
    # a reports 3 free (more than b's 2) once, long-lived, and then nothing more reaches the
    # hub: it places the first start on a, which the test has filled meanwhile.
    a, b = workers.start("a", 3, load_interval=600), workers.start("b", 2)
    relay = Relay(a)
    server, relayed = await addresses.listen_unix(relay.serve, tmp_path / "relay.sock")
    try:
        async with hub_over(tmp_path, relayed, b) as running, linked(a) as direct:
            for _ in range(3):
                await direct.start_kernel(str(uuid.uuid4()), "python3")
            hub = Hub(running.url, running.token)
            try:
                assert (await start(hub)).status_code == 201
                assert (await start(hub)).status_code == 201
                refused = await start(hub)
            finally:
                await hub.aclose()
    finally:
        server.close()
    assert relay.failures == [503], "the hub should have tried a once, and then not again"
    assert [await kernels_on(a), await kernels_on(b)] == [3, 2]
    assert refused.status_code == 503
    assert "every worker is full (2 workers, 2 to 3 sessions each)" in refused.json()["message"]


async def test_starts_go_around_a_killed_worker(tmp_path: Path, workers: Workers) -> None:
    # a, the bigger, is the hub's first choice until it notices that a is gone.
    a, b = workers.start("a", 4), workers.start("b", 3)
    async with hub_over(tmp_path, a, b) as running:
        hub = Hub(running.url, running.token)
        try:
            workers.kill(a)
            answers = [(await start(hub)).status_code for _ in range(3)]
        finally:
            await hub.aclose()
    assert answers == [201, 201, 201]
    assert await kernels_on(b) == 3
