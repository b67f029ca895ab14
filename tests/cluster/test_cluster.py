"""A deployment across hosts (tests/cluster/cluster.py) seen by its clients: kernels spread
over every worker, and a hub killed in the middle of a long print costs a reconnect through
another hub, not a line of output (issue 14, item 7: scenarios a and b).

Clients connect to ``cluster.client_urls()``: the hubs themselves until the load balancers
come, whose virtual address these scenarios will then go through unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import websockets

from cellhub.client import channels_url
from tests.cluster.cluster import TOKEN, Cluster
from tests.hubs import LONG_PRINT, LONG_PRINT_OUTPUT, collect
from tests.kernel_client import Hub, KernelClient, request_message
from tests.polling import until

KERNELS = 150
#: Kernel starts in flight at once, as a class of students opening a page would send them.
STARTS_AT_ONCE = 10
T = TypeVar("T")


async def at_once(count: int, request: Callable[[int], Awaitable[T]]) -> list[T]:
    """``request(0)`` to ``request(count - 1)``, STARTS_AT_ONCE at a time; the first to fail
    cancels the others."""
    gate = asyncio.Semaphore(STARTS_AT_ONCE)

    async def gated(index: int) -> T:
        async with gate:
            return await request(index)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(gated(index)) for index in range(count)]
    return [task.result() for task in tasks]


async def shut_down(hub: Hub, kernel_id: str) -> None:
    response = await hub.http.delete(f"/api/kernels/{kernel_id}")
    assert response.status_code == 204, response.text


async def test_kernels_spread_over_every_worker(cluster: Cluster) -> None:
    hubs = [Hub(url, TOKEN) for url in cluster.client_urls()]
    try:
        kernel_ids = await at_once(KERNELS, lambda i: hubs[i % len(hubs)].start_kernel())
        placed = cluster.placement(kernel_ids)
        assert sorted(placed) == sorted(cluster.worker_addresses), placed
        assert min(placed.values()) >= KERNELS // 5, f"a worker got less than 20 %: {placed}"
        # each through the hub after the one that started it
        await at_once(KERNELS, lambda i: shut_down(hubs[(i + 1) % len(hubs)], kernel_ids[i]))
        for hub in hubs:
            listed = {kernel["id"] for kernel in (await hub.http.get("/api/kernels")).json()}
            assert not listed & set(kernel_ids), "a kernel shut down is still listed"
    finally:
        for hub in hubs:
            await hub.aclose()


async def test_a_print_survives_its_hub_killed(cluster: Cluster) -> None:
    first = Hub(cluster.hubs[1].url, TOKEN)
    kernel_id = await first.start_kernel()
    await first.aclose()
    kernel = await KernelClient.connect(cluster.hubs[1].url, TOKEN, kernel_id)
    await kernel.send(request_message("execute_request", {"code": LONG_PRINT}))
    texts: list[str] = []
    seqs: list[int] = []
    reader = asyncio.create_task(collect(kernel, texts, seqs))
    await until(lambda: bool(texts), "output streaming", timeout=60)
    cluster.kill_hub(1)
    try:
        assert await reader is False, "the output should still have been streaming"
        resume = f"{channels_url(cluster.client_urls()[0], TOKEN, kernel_id)}&resume={seqs[-1]}"
        async with websockets.connect(resume, max_size=None) as ws:
            assert await collect(KernelClient(ws), texts, seqs) is True
        second = Hub(cluster.client_urls()[0], TOKEN)
        assert (await second.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
        await second.aclose()
    finally:
        cluster.start_hub(1)
    assert "".join(texts) == LONG_PRINT_OUTPUT
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "each message exactly once, in order"
