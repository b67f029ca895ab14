"""The client workloads, identical for every server: each runs one round and returns samples.

Every workload starts the kernels it needs through ``POST /api/kernels``, talks to them over
their WebSockets, and shuts them down again, so no two rounds (and no two servers) share a
kernel. What each one does, step by step, is in ``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil
from websockets.exceptions import WebSocketException

from bench.client import Execution, ExecutionTimeout, KernelChannel, KernelsClient
from bench.memory import MiB, ksmd, merged, pss_bytes, subtree_pss
from bench.rest import RestError
from bench.servers import BenchServer, ServerFailed

IMPORTS = "import numpy, matplotlib.pyplot"
"""Run first in every kernel that must have numpy and matplotlib imported: ipykernel needs
it; in cellhub the template has imported both already, so it is a lookup in sys.modules."""

GETPID = "import os; os.getpid()"
LINES_CODE = "for i in range({n}):\n    print(i)"
BIG_PRINT_CODE = "print('x' * {size})"

T = TypeVar("T")


class WorkloadError(RuntimeError):
    """A kernel answered wrongly or not at all."""


FAILURES = (
    WorkloadError,
    ServerFailed,
    RestError,
    WebSocketException,
    OSError,
    TimeoutError,
    psutil.Error,
)
"""What a workload may raise when a server or kernel misbehaves or runs out of resources."""


@dataclass
class Target:
    """A running server and a client connected to it."""

    server: BenchServer
    client: KernelsClient


@dataclass
class Samples:
    """Named series of measurements plus free-form details, merged across rounds."""

    series: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, *values: float) -> None:
        self.series.setdefault(key, []).extend(values)

    def merge(self, other: Samples) -> None:
        for key, values in other.series.items():
            self.add(key, *values)
        for key, value in other.details.items():
            self.details.setdefault(key, []).append(value)


def expect(execution: Execution, result: str | None = None) -> Execution:
    if execution.status != "ok" or (result is not None and execution.result != result):
        raise WorkloadError(
            f"expected status ok and result {result!r}, got {execution.status} "
            f"and {execution.result!r}"
        )
    return execution


async def gather_limited(parallel: int, jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(parallel)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


async def open_kernel(target: Target, imports: bool) -> tuple[str, KernelChannel]:
    kernel_id = await target.client.start_kernel()
    channel = await target.client.connect(kernel_id)
    if imports:
        expect(await channel.execute(IMPORTS))
    expect(await channel.execute("1+1"), "2")
    return kernel_id, channel


async def close_kernel(target: Target, kernel_id: str, channel: KernelChannel) -> None:
    await channel.close()
    await target.client.shutdown_kernel(kernel_id)


async def session_start(target: Target, count: int, pause: float) -> Samples:
    """``POST /api/kernels`` → WebSocket open → (imports) → result of ``1+1``, in ms.

    ``start_ms`` and ``start_bare_ms`` (with and without the imports cell) leave ``pause``
    seconds after each kernel is closed, as when people start kernels at a few per
    second: each sample is one start's latency. ``start_burst_ms`` starts the bare kernels
    back to back, which measures how fast the server can keep starting them.
    """
    samples = Samples()
    for imports, key, wait in (
        (True, "start_ms", pause),
        (False, "start_bare_ms", pause),
        (False, "start_burst_ms", 0.0),
    ):
        for _ in range(count):
            started = time.perf_counter()
            kernel_id, channel = await open_kernel(target, imports)
            samples.add(key, (time.perf_counter() - started) * 1000)
            await close_kernel(target, kernel_id, channel)
            await asyncio.sleep(wait)
    return samples


async def round_trip(target: Target, count: int, warmup: int = 20) -> Samples:
    """``1+1`` on one open kernel: send → reply and final idle, in ms."""
    samples = Samples()
    kernel_id, channel = await open_kernel(target, imports=False)
    for _ in range(warmup):
        expect(await channel.execute("1+1"), "2")
    for _ in range(count):
        samples.add("roundtrip_ms", expect(await channel.execute("1+1"), "2").seconds * 1000)
    await close_kernel(target, kernel_id, channel)
    return samples


async def concurrent_clients(target: Target, clients: int, seconds: float) -> Samples:
    """``clients`` kernels, one WebSocket each, running ``1+1`` in a loop for ``seconds``."""
    samples = Samples()
    opened = await asyncio.gather(*(open_kernel(target, False) for _ in range(clients)))
    for _, channel in opened:
        for _ in range(5):
            expect(await channel.execute("1+1"), "2")
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(channel: KernelChannel) -> list[float]:
        latencies = []
        while time.perf_counter() < deadline:
            latencies.append(expect(await channel.execute("1+1"), "2").seconds * 1000)
        return latencies

    per_client = await asyncio.gather(*(loop(channel) for _, channel in opened))
    elapsed = time.perf_counter() - started
    total = sum(len(latencies) for latencies in per_client)
    samples.add("concurrency_rate", total / elapsed)
    for latencies in per_client:
        samples.add("concurrency_ms", *latencies)
    await asyncio.gather(*(close_kernel(target, k, c) for k, c in opened))
    return samples


async def printed_lines(target: Target, lines: int, timeout: float) -> Samples:
    """``for i in range(lines): print(i)``: seconds to final idle, bytes, lines missing."""
    samples = Samples()
    expected_bytes = sum(len(str(i)) + 1 for i in range(lines))
    kernel_id, channel = await open_kernel(target, imports=False)
    try:
        execution = expect(await channel.execute(LINES_CODE.format(n=lines), timeout))
    except ExecutionTimeout as timed_out:
        execution = timed_out.partial
        samples.details["lines_timeout"] = timeout
    samples.add("lines_seconds", execution.seconds)
    samples.add("lines_bytes", execution.stdout_bytes)
    samples.add("lines_missing", max(0, lines - execution.stdout_lines))
    samples.details["lines_expected_bytes"] = expected_bytes
    await close_kernel(target, kernel_id, channel)
    return samples


async def big_print(target: Target, size: int, timeout: float) -> Samples:
    """One ``print`` of ``size`` characters: seconds to final idle, bytes delivered."""
    samples = Samples()
    kernel_id, channel = await open_kernel(target, imports=False)
    try:
        execution = expect(await channel.execute(BIG_PRINT_CODE.format(size=size), timeout))
    except ExecutionTimeout as timed_out:
        execution = timed_out.partial
        samples.details["bigprint_timeout"] = timeout
    samples.add("bigprint_seconds", execution.seconds)
    samples.add("bigprint_bytes", execution.stdout_bytes)
    samples.add("bigprint_missing", max(0, size + 1 - execution.stdout_bytes))
    await close_kernel(target, kernel_id, channel)
    return samples


async def idle_kernel(target: Target) -> tuple[str, int]:
    """A kernel with numpy and matplotlib imported, no client attached; returns (id, pid)."""
    kernel_id, channel = await open_kernel(target, imports=True)
    pid = expect(await channel.execute(GETPID)).result
    await channel.close()
    if pid is None or not pid.isdigit():
        raise WorkloadError(f"kernel reported pid {pid!r}")
    return kernel_id, int(pid)


async def fill_memory(
    target: Target, memory_at: int, budget: int, ksm: bool = False, merge_wait: float = 300.0
) -> Samples:
    """The memory and capacity ramp (:func:`ramp_kernels`); with ``ksm``, the host's ksmd
    runs meanwhile, fast. Whenever ksmd runs, memory is read once it has merged what it
    can, or after ``merge_wait`` seconds."""
    with ksmd() if ksm else contextlib.nullcontext():
        return await ramp_kernels(target, memory_at, budget, merge_wait)


async def ramp_kernels(
    target: Target,
    memory_at: int,
    budget: int,
    merge_wait: float,
    parallel: int = 4,
    settle: float = 0.5,
    max_kernels: int = 20000,
) -> Samples:
    """Start idle kernels one after another, reading PSS as they accumulate.

    With ``memory_at`` > 0: PSS of the only kernel alive, and of each kernel once
    ``memory_at`` are alive, plus the whole server tree's PSS divided by ``memory_at``.
    With ``budget`` > 0: go on until the server tree's PSS exceeds the budget or a kernel
    fails to start; the capacity is the number of kernels alive at the budget, interpolated
    linearly between the last two PSS readings around it.
    """
    samples = Samples()
    root = target.server.root()
    alive: list[tuple[str, int]] = []
    previous = (0, subtree_pss(root))
    samples.details["empty_tree_mib"] = previous[1] / MiB
    target_count = max(memory_at, 1) if budget <= 0 else max_kernels
    reason = f"reached {target_count} kernels"
    while len(alive) < target_count:
        count = len(alive)
        batch = next_batch(count, memory_at, target_count)
        try:
            alive += await gather_limited(parallel, [lambda: idle_kernel(target)] * batch)
        except FAILURES as error:
            reason = f"kernel {count + 1} failed: {type(error).__name__}: {error}"[:300]
            break
        await asyncio.sleep(settle)
        count = len(alive)
        if count == memory_at:
            samples.details["ksm_wait_seconds"] = await merged(merge_wait)
        tree = read_memory(samples, target, root, [pid for _, pid in alive], memory_at)
        if budget > 0 and tree > budget:
            reason = record_capacity(samples, previous, (count, tree), budget)
            break
        previous = (count, tree)
        if psutil.virtual_memory().available < 2**30:
            reason = "stopped: less than 1 GiB of machine memory left"
            break
    if budget > 0 and "capacity" not in samples.series:
        samples.add("capacity", len(alive))
    samples.details["fill_stop"] = reason
    await target.client.shutdown_all()
    return samples


def next_batch(count: int, memory_at: int, target_count: int) -> int:
    """How many kernels the ramp starts next: the first alone, then up to ``memory_at`` at
    once, then an eighth more at a time, so the budget is crossed in small steps."""
    if count == 0:
        return 1
    if count < memory_at:
        return memory_at - count
    return max(1, min(count // 8, target_count - count))


def read_memory(
    samples: Samples, target: Target, root: psutil.Process, pids: list[int], memory_at: int
) -> int:
    """The PSS of the server's tree from ``root`` with ``pids`` alive; at one kernel and at
    ``memory_at`` also the per-kernel readings of :func:`ramp_kernels`."""
    count = len(pids)
    processes = target.server.session_processes(pids)
    tree = subtree_pss(root)
    if count == 1:
        samples.add("pss_one_mib", pss_bytes(processes[0].pid) / MiB)
    if count == memory_at:
        samples.add("pss_idle_mib", *(subtree_pss(p) / MiB for p in processes))
        samples.add("pss_tree_mib", tree / count / MiB)
        samples.details["tree_mib_at_memory_count"] = tree / MiB
    return tree


def record_capacity(
    samples: Samples, before: tuple[int, int], after: tuple[int, int], budget: int
) -> str:
    """Record the kernels that fit ``budget``, interpolated between the ``(kernels, tree
    PSS)`` readings either side of it; the reason the ramp stops."""
    (last_count, last_tree), (count, tree) = before, after
    per_kernel = (tree - last_tree) / (count - last_count)
    fit = last_count + math.floor((budget - last_tree) / per_kernel)
    samples.add("capacity", max(0, min(fit, count)))
    return (
        f"tree PSS {tree / MiB:.0f} MiB > budget at {count} kernels; "
        f"{last_tree / MiB:.0f} MiB at {last_count}"
    )
