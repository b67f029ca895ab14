"""A worker lost and back, with real hubs and workers on TCP with mutual TLS
(docs/deployment.md, "When a worker is lost").

A host that drops off the network is a worker stopped with SIGSTOP: its connections stay
open and say nothing. Its kernels are reported dead ("its host is unreachable") to their
clients and in the API, new kernels go to the other worker, and when it returns the kernels
it still runs are back. A worker killed is lost at once and its kernels stay dead when it
is started again; a worker restarted while its hub was not looking is reconciled, not lost;
two hubs on one PostgreSQL reconcile a returning worker once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cellhub.db.database import make_engine
from cellhub.db.kernels import KernelRepository
from cellhub.deploy.certificates import ensure_certificates
from cellhub.hub.kernels import RESTARTED, UNREACHABLE
from tests.conftest import RunningHub
from tests.db.postgres import running_postgres
from tests.hub.worker_processes import Workers, hub_over
from tests.kernel_client import Execution, Hub, KernelClient
from tests.polling import until

#: Short enough to keep the tests quick, long enough for a loaded machine: a hub gives a
#: worker up after 3 s without a word; workers report every 0.25 s.
HUB = {"CELLHUB_WORKER_TIMEOUT": "3"}
WORKER = {"CELLHUB_LOAD_INTERVAL": "0.25"}
#: Seconds any step may take on a loaded machine (detection itself takes about 3 s).
PATIENCE = 60


class Deployment:
    """Workers on 127.0.0.1 and hubs over them, with certificates of one CA."""

    def __init__(self, root: Path, workers: Workers) -> None:
        self.root = root
        self.workers = workers
        self.certs = ensure_certificates(root / "certs")

    def tls(self, role: str) -> dict[str, str]:
        return {
            "CELLHUB_TLS_CERTIFICATE": str(self.certs.cert(role)),
            "CELLHUB_TLS_KEY": str(self.certs.key(role)),
            "CELLHUB_TLS_CA": str(self.certs.ca_cert),
        }

    def worker(self, name: str, port: int = 0) -> str:
        """Start worker ``name`` (on ``port``, 0: any); its address, host:port."""
        flags = ["--worker-port", str(port)]
        return self.workers.run(self.root / name, flags, {**WORKER, **self.tls("worker")})

    def hub(
        self, *workers: str, name: str = "hub", **env: str
    ) -> contextlib.AbstractAsyncContextManager[RunningHub]:
        return hub_over(self.root, *workers, env={**HUB, **self.tls("hub"), **env}, name=name)

    def signal(self, worker: str, signum: signal.Signals) -> None:
        os.kill(self.workers.processes[worker].pid, signum)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    workers = Workers(tmp_path)
    yield Deployment(tmp_path, workers)
    workers.stop()


def worker_of(hub: RunningHub, kernel_id: str) -> str:
    """The worker the hub's database records for the kernel."""
    engine = make_engine(f"sqlite:///{hub.data_dir / 'cellhub.sqlite'}")
    try:
        record = KernelRepository(engine).get(kernel_id)
    finally:
        engine.dispose()
    assert record is not None
    return record.worker


async def start_on(hub: Hub, running: RunningHub, worker: str) -> str:
    """Start kernels until one is placed on ``worker`` (workers with equal room take turns)."""
    for _ in range(4):
        kernel_id = await hub.start_kernel()
        if worker_of(running, kernel_id) == worker:
            return kernel_id
    raise AssertionError(f"no kernel placed on {worker}")


async def listed(hub: Hub) -> list[str]:
    response = await hub.http.get("/api/kernels")
    assert response.status_code == 200, response.text
    return [model["id"] for model in response.json()]


async def ended_because(hub: Hub, kernel_id: str) -> str | None:
    """Why the API says the kernel ended (None: it says the kernel is there)."""
    response = await hub.http.get(f"/api/kernels/{kernel_id}")
    if response.status_code == 200:
        return None
    assert response.status_code == 404, response.text
    return str(response.json().get("reason"))


async def is_back(hub: Hub, kernel_id: str) -> bool:
    return await ended_because(hub, kernel_id) is None


@contextlib.asynccontextmanager
async def attached(running: RunningHub, kernel_id: str) -> AsyncIterator[KernelClient]:
    kernel = await KernelClient.connect(running.url, running.token, kernel_id)
    async with kernel:
        yield kernel


def two(execution: Execution) -> bool:
    return bool(execution.first("execute_result")["content"]["data"]["text/plain"] == "2")


def said(running: RunningHub, since: int, pattern: str) -> list[str]:
    """The hub's log lines from line ``since`` on that match ``pattern``."""
    return [line for line in running.output[since:] if re.search(pattern, line)]


async def test_a_silent_worker_is_lost_and_its_kernels_are_back_when_it_returns(
    deployment: Deployment,
) -> None:
    w1, w2 = deployment.worker("w1"), deployment.worker("w2")
    async with deployment.hub(w1, w2) as running:
        hub = Hub(running.url, running.token)
        try:
            kernel_id = await start_on(hub, running, w2)
            async with attached(running, kernel_id) as kernel:
                assert two(await kernel.execute("1+1"))
                deployment.signal(w2, signal.SIGSTOP)
                assert await kernel.dead_reason(timeout=PATIENCE) == UNREACHABLE
            assert await ended_because(hub, kernel_id) == UNREACHABLE
            assert kernel_id not in await listed(hub)
            for _ in range(2):
                assert worker_of(running, await hub.start_kernel()) == w1

            deployment.signal(w2, signal.SIGCONT)
            await until(lambda: is_back(hub, kernel_id), "the kernel back", timeout=PATIENCE)
            assert kernel_id in await listed(hub)
            async with attached(running, kernel_id) as kernel:
                assert two(await kernel.execute("1+1"))
        finally:
            await hub.aclose()


async def test_a_killed_worker_is_lost_and_its_kernels_stay_dead_when_it_restarts(
    deployment: Deployment,
) -> None:
    w1, w2 = deployment.worker("w1"), deployment.worker("w2")
    async with deployment.hub(w1, w2) as running:
        hub = Hub(running.url, running.token)
        try:
            kernel_id = await start_on(hub, running, w2)
            async with attached(running, kernel_id) as kernel:
                deployment.workers.kill(w2)
                assert await kernel.dead_reason(timeout=PATIENCE) == UNREACHABLE
            since = len(running.output)
            port = int(w2.rpartition(":")[2])
            assert deployment.worker("w2", port) == w2
            back = f"reconciled worker {re.escape(w2)}: 0 kernel"
            await until(lambda: bool(said(running, since, back)), "reconciled", timeout=PATIENCE)
            assert await ended_because(hub, kernel_id) == UNREACHABLE
            assert kernel_id not in await listed(hub)
        finally:
            await hub.aclose()


async def test_a_worker_restarted_while_its_hub_was_stopped_is_reconciled_not_lost(
    deployment: Deployment,
) -> None:
    worker = deployment.worker("w")
    async with deployment.hub(worker) as running:
        hub = Hub(running.url, running.token)
        try:
            watched, unwatched = await hub.start_kernel(), await hub.start_kernel()
            async with attached(running, watched) as kernel:
                since = len(running.output)
                running.process.send_signal(signal.SIGSTOP)
                try:
                    deployment.workers.kill(worker)
                    port = int(worker.rpartition(":")[2])
                    assert deployment.worker("w", port) == worker
                finally:
                    running.process.send_signal(signal.SIGCONT)
                # The hub attaches its clients' kernels again at once; the worker says it has
                # no such kernel before the reconcile does.
                told = await kernel.dead_reason(timeout=PATIENCE)
            assert told and await ended_because(hub, watched) == told
            assert await ended_because(hub, unwatched) == RESTARTED
            assert not said(running, since, "lost worker")
        finally:
            await hub.aclose()


async def test_two_hubs_on_postgresql_reconcile_a_returning_worker_once(
    deployment: Deployment, tmp_path: Path
) -> None:
    worker = deployment.worker("w")
    with running_postgres(tmp_path / "pg") as url:
        async with (
            deployment.hub(worker, name="a", CELLHUB_DATABASE_URL=url) as a,
            deployment.hub(worker, name="b", CELLHUB_DATABASE_URL=url) as b,
        ):
            via_a, via_b = Hub(a.url, a.token), Hub(b.url, b.token)
            try:
                kernel_id = await via_a.start_kernel()
                deployment.signal(worker, signal.SIGSTOP)
                lost = f"lost worker {re.escape(worker)}"
                await until(
                    lambda: bool(said(a, 0, lost) and said(b, 0, lost)), "lost", timeout=PATIENCE
                )
                assert await ended_because(via_b, kernel_id) == UNREACHABLE
                since_a, since_b = len(a.output), len(b.output)
                deployment.signal(worker, signal.SIGCONT)
                done = f"(reconciled|another hub reconciles) worker {re.escape(worker)}"
                await until(
                    lambda: bool(said(a, since_a, done) and said(b, since_b, done)),
                    "both hubs reconciled",
                    timeout=PATIENCE,
                )
                revived = f"reconciled worker {re.escape(worker)}: 1 kernel"
                assert len(said(a, since_a, revived) + said(b, since_b, revived)) == 1
                for hub in (via_a, via_b):
                    assert await ended_because(hub, kernel_id) is None
                    assert kernel_id in await listed(hub)
            finally:
                await via_a.aclose()
                await via_b.aclose()
