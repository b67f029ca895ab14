"""The class start: a whole class opens its kernels within the same few seconds, through the
load balancer.

``size`` clients arrive evenly spread over ``spread`` seconds (client ``i`` at ``i ·
spread / size``), each on its own connections: ``POST /api/kernels``, the kernel's
WebSocket, ``1+1``. cellhub is reached through HAProxy (the cluster figure's,
bench/cluster.py), as a deployment's clients reach it; Jupyter Server, which has no load
balancer story, straight (behind HAProxy, its health checks time out under this load and
HAProxy turns most of the class away). Each sample is the time from the client's arrival to
its result, so that a server (or a client process) that falls behind shows in it; a client
that gets no result within ``timeout`` seconds, or an error, counts as failed. The class
begins once the server holds ready what it keeps ready between classes (cellhub: its spare
sessions, ``class_spares_ready`` in the JSON's details; bench/servers.py): two by default,
one for every client in ``cellhub-ready`` (bench/compare.py). The kernels stay alive until
every client is done, as a class's would, and are shut down afterwards, outside the timing.
The CPU time the client and each part of the server used during the class goes in the JSON's
details (``class_cpu_seconds``), and so does the memory the class took from the machine
(``class_new_memory_mib``, the fall in ``MemAvailable`` from its start to its last result):
past a point that depends on the machine, new memory costs several times more
(bench/new_pages.py). What the server's parts hold as their own once every client has its
result (``class_private_memory_mib``, by part) is counted from the processes themselves, so
memory the rest of the machine frees meanwhile does not hide it.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time

from bench.client import KernelChannel, KernelsClient
from bench.cluster import haproxy_in_front
from bench.memory import MiB
from bench.workloads import FAILURES, Samples, Target, expect
from cellhub.worker.load import mem_available


async def one_student(
    client: KernelsClient, arrival: float, timeout: float
) -> tuple[float, KernelChannel]:
    """Wait for ``arrival`` (loop time), then start, connect and run ``1+1``: seconds from
    arrival to result, and the kernel's socket."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, arrival - loop.time()))
    channel: KernelChannel | None = None
    try:
        async with asyncio.timeout(timeout):
            kernel_id = await client.start_kernel()
            channel = await client.connect(kernel_id)
            expect(await channel.execute("1+1"), "2")
    except BaseException:
        if channel is not None:
            await channel.close()
        raise
    return loop.time() - arrival, channel


def cpu_used(target: Target) -> dict[str, float]:
    """CPU seconds used so far by this benchmark's own client and by each part of the server:
    where a class start's time goes, on a machine the two share."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {"client": own.ru_utime + own.ru_stime, **target.server.cpu_seconds()}


async def class_start(
    target: Target, size: int, spread: float, timeout: float, through_haproxy: bool
) -> Samples:
    """One class start against ``target``'s server, through HAProxy or straight to it (see
    the module)."""
    samples = Samples()
    front = (
        haproxy_in_front(target.server)
        if through_haproxy
        else contextlib.nullcontext(target.server.base_url)
    )
    await asyncio.to_thread(target.server.settle)
    samples.details["class_spares_ready"] = await asyncio.to_thread(target.server.spares)
    async with front as url:
        client = KernelsClient(url, target.server.token)
        began = asyncio.get_running_loop().time() + 0.5
        started = time.perf_counter()
        cpu_before = cpu_used(target)
        memory_before = mem_available()
        try:
            outcomes = await asyncio.gather(
                *(one_student(client, began + i * spread / size, timeout) for i in range(size)),
                return_exceptions=True,
            )
        finally:
            await client.aclose()
    samples.details["class_wall_seconds"] = time.perf_counter() - started
    samples.details["class_new_memory_mib"] = round((memory_before - mem_available()) / MiB)
    samples.details["class_cpu_seconds"] = {
        part: round(seconds - cpu_before.get(part, 0.0), 2)
        for part, seconds in cpu_used(target).items()
    }
    done = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    unexpected = [failure for failure in failed if not isinstance(failure, FAILURES)]
    if unexpected:
        raise unexpected[0]
    samples.add("class_seconds", *(seconds for seconds, _ in done))
    samples.add("class_succeeded", len(done))
    if failed:
        samples.details["errors"] = (
            f"class start: {len(failed)} of {size} clients failed, first: {failed[0]!r}"[:500]
        )
    samples.details["class_private_memory_mib"] = target.server.private_memory_mib()
    for _, channel in done:
        await channel.close()
    await target.client.shutdown_all()
    return samples
