"""Spare sessions set while a worker runs: an administrator has a worker keep more spares
before a class and fewer after it (``POST /api/workers/spares``, ``cellhub workers
--spares``), and the worker forks or ends sessions to match, with no restart.

A real ``cellhub worker`` and ``cellhub hub`` (tests/hub/worker_processes.py); the spares are
counted both as the hub lists them (the worker's load report) and as processes: the
sessions the worker's template has forked.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

import psutil

from tests.hub.worker_processes import Workers, hub_over, start
from tests.kernel_client import Hub
from tests.polling import until


def sessions_forked(workers: Workers, address: str) -> int:
    """The sessions alive that the worker's template has forked (spares and kernels): forks
    of the template, whose command line they keep."""
    forks = [p for p in workers.family(workers.processes[address]) if runs_template(p)]
    pids = {p.pid for p in forks}
    return sum(1 for p in forks if forked_by(p, pids))


def runs_template(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        return "cellhub.template.process" in " ".join(process.cmdline())
    return False


def forked_by(process: psutil.Process, parents: set[int]) -> bool:
    """Whether ``process`` is alive (not a zombie) and a child of one of ``parents``."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return process.ppid() in parents and process.status() != psutil.STATUS_ZOMBIE
    return False


async def spares_listed(hub: Hub) -> int | None:
    [worker] = (await hub.http.get("/api/workers")).json()
    spares: int | None = worker["spares"]
    return spares


async def test_a_worker_keeps_the_spares_a_hub_asks_for_until_asked_again(
    tmp_path: Path, workers: Workers
) -> None:
    address = workers.start("a", 20, load_interval=0.2)
    async with hub_over(tmp_path, address) as running:
        hub = Hub(running.url, running.token)
        try:
            await until(lambda: sessions_forked(workers, address) == 1, "the setting's 1 spare")
            raised = await hub.http.post(
                "/api/workers/spares", json={"worker": address, "spares": 6}
            )
            assert raised.status_code == 200, raised.text
            assert raised.json()["spares_wanted"] == 6
            await until(lambda: sessions_forked(workers, address) == 6, "6 sessions", 60)
            await until(lambda: spares_at(hub, 6), "the hub lists 6 spares")
            kernel = await start(hub)
            assert kernel.status_code == 201, kernel.text
            await until(lambda: sessions_forked(workers, address) == 7, "6 spares and a kernel", 60)
            lowered = await cellhub_workers(
                "--hub", running.url, "--token", running.token, "--spares", "0"
            )
            assert lowered.returncode == 0, lowered.stderr
            await until(lambda: sessions_forked(workers, address) == 1, "the kernel's alone", 30)
            await until(lambda: spares_at(hub, 0), "the hub lists no spare")
            assert (await start(hub)).status_code == 201, "with no spare, a start forks its own"
        finally:
            await hub.aclose()
    assert "SPARES" in lowered.stdout.splitlines()[0]
    assert "keeping 0 spare sessions of each kernel kind" in "".join(workers.output[address])


async def spares_at(hub: Hub, count: int) -> bool:
    return await spares_listed(hub) == count


async def cellhub_workers(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cellhub", "workers", *argv]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
