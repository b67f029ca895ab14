"""A deployment across hosts (tests/cluster/cluster.py) seen by its clients, through the load
balancers' virtual address (issue 14, item 7):

(a) kernels spread over every worker;
(b) a hub killed in the middle of a long print costs the client a reconnect, not a line;
(c) so does the active HAProxy killed, and the virtual address moves to the other balancer;
(d) a worker cut off the network: its kernels reported dead within 10 s by every hub, the
    others unaffected, new kernels elsewhere, and its kernels back once it returns;
(e) a worker added to the workers file takes new kernels within 5 s;
(f) a worker set draining takes none, while its kernels go on.

Each scenario starts from a settled cluster (balancer 1 holds the address, every HAProxy
sees every hub ready) and leaves behind what it killed started again and its kernels shut
down. The hubs are asked directly where every hub must agree (each answers for itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import httpx
import pytest
import websockets

from cellhub.client import channels_url
from tests.cluster.cluster import TOKEN, Cluster
from tests.hubs import LONG_PRINT, LONG_PRINT_OUTPUT, collect
from tests.kernel_client import Hub, KernelClient, request_message
from tests.polling import until

KERNELS = 150
#: Kernel starts in flight at once, as a class of students opening a page would send them.
STARTS_AT_ONCE = 10
#: Seconds within which a lost worker's kernels are reported dead, and a worker added is used.
DEAD_WITHIN = 10.0
ADDED_WITHIN = 5.0
#: Seconds within which, after its connection broke, the virtual address moves and a
#: client resumes through it.
MOVED_WITHIN = 5.0
RESUMED_WITHIN = 5.0
#: Seconds a worker back on the network has to be reconnected and reconciled by every hub
#: (a hub retries a lost worker at most 5 s apart).
BACK_WITHIN = 30.0
UNREACHABLE = "its host is unreachable"
T = TypeVar("T")


@pytest.fixture(autouse=True)
def settled(cluster: Cluster) -> None:
    cluster.wait_until_settled()


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


class Client(Hub):
    """A client of the cluster at its virtual address. When it closes, failed or not, it
    shuts down the kernels it started and did not shut down itself, leaving the cluster
    as it found it."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster.client_url, TOKEN)
        self.started: list[str] = []

    async def start_kernel(self, name: str = "python3") -> str:
        kernel_id = await super().start_kernel(name)
        self.started.append(kernel_id)
        return kernel_id

    async def shut_down(self, kernel_id: str) -> None:
        response = await self.http.delete(f"/api/kernels/{kernel_id}")
        assert response.status_code == 204, response.text
        self.started.remove(kernel_id)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        left = list(self.started)
        await at_once(len(left), lambda i: self.http.delete(f"/api/kernels/{left[i]}"))
        await self.aclose()


async def kernels_on(client: Client, cluster: Cluster, numbers: Collection[int]) -> dict[int, str]:
    """A kernel on each of the workers ``numbers``: kernels started until placement has put
    one on each (bounded: placement by load fills every worker in turn)."""
    found: dict[int, str] = {}
    for _ in range(10 * len(cluster.workers)):
        kernel_id = await client.start_kernel()
        number = cluster.placement([kernel_id])[kernel_id]
        found.setdefault(number, kernel_id)
        if set(numbers) <= set(found):
            return {number: found[number] for number in numbers}
    raise AssertionError(f"no kernel placed on some of the workers {numbers}: {found}")


async def every_hub(cluster: Cluster, path: str, check: Callable[[httpx.Response], bool]) -> bool:
    """Whether ``check`` holds of each hub's answer to GET ``path``, asked of the hub itself;
    a hub that does not answer within seconds does not agree yet."""
    headers = {"Authorization": f"token {TOKEN}"}
    async with httpx.AsyncClient(headers=headers, timeout=2) as http:
        for hub in cluster.hubs.values():
            try:
                if not check(await http.get(f"{hub.url}{path}")):
                    return False
            except httpx.TimeoutException:
                return False
    return True


def listed_worker(response: httpx.Response, name: str) -> dict[str, Any]:
    """Worker ``name`` as a hub's GET /api/workers lists it."""
    return next(worker for worker in response.json() if worker["name"] == name)


def gone(response: httpx.Response, reason: str) -> bool:
    """Whether a hub answered GET /api/kernels/ID: no such kernel, ended for ``reason``."""
    return response.status_code == 404 and response.json()["reason"] == reason


async def runs_code(kernel: KernelClient) -> None:
    execution = await kernel.execute("1+1")
    result = execution.first("execute_result")["content"]["data"]["text/plain"]
    assert result == "2", execution.explain()


async def test_kernels_spread_over_every_worker(cluster: Cluster) -> None:
    async with Client(cluster) as client:
        kernel_ids = await at_once(KERNELS, lambda _: client.start_kernel())
        placed = Counter(cluster.placement(kernel_ids).values())
        assert sorted(placed) == sorted(cluster.workers), placed
        assert min(placed.values()) >= KERNELS // 5, f"a worker got less than 20 %: {placed}"
        await at_once(KERNELS, lambda i: client.shut_down(kernel_ids[i]))
        listed = {kernel["id"] for kernel in (await client.http.get("/api/kernels")).json()}
        assert not listed & set(kernel_ids), "a kernel shut down is still listed"


async def resume(
    url: str, kernel_id: str, texts: list[str], seqs: list[int], broken_at: float
) -> None:
    """Reconnect to the kernel after the last message seen, retrying while nothing answers
    until RESUMED_WITHIN seconds after the connection broke, and read the print to its end."""
    resume_url = f"{channels_url(url, TOKEN, kernel_id)}&resume={seqs[-1]}"
    deadline = broken_at + RESUMED_WITHIN
    while True:
        try:
            ws = await websockets.connect(resume_url, max_size=None, open_timeout=5)
            break
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
            assert time.monotonic() < deadline, f"no resume within {RESUMED_WITHIN} s: {exc!r}"
            await asyncio.sleep(0.1)
    async with ws:
        assert await collect(KernelClient(ws), texts, seqs) is True, "dropped again"


async def interrupted_print(cluster: Cluster, interrupt: Callable[[str], Awaitable[None]]) -> None:
    """A client prints 10**5 lines through the virtual address; ``interrupt(kernel_id)``
    breaks its connection midway; it resumes through the address and must get every line
    exactly once, in order."""
    texts: list[str] = []
    seqs: list[int] = []
    async with Client(cluster) as client:
        kernel_id = await client.start_kernel()
        kernel = await KernelClient.connect(cluster.client_url, TOKEN, kernel_id)
        await kernel.send(request_message("execute_request", {"code": LONG_PRINT}))
        reader = asyncio.create_task(collect(kernel, texts, seqs))
        await until(lambda: bool(texts), "output streaming", timeout=60)
        broken_at = time.monotonic()
        await interrupt(kernel_id)
        assert await reader is False, "the output should still have been streaming"
        await resume(cluster.client_url, kernel_id, texts, seqs, broken_at)
        await client.shut_down(kernel_id)
    assert "".join(texts) == LONG_PRINT_OUTPUT
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "each message exactly once, in order"


async def serving_hub(cluster: Cluster, kernel_id: str) -> int:
    """The number of the hub that holds the kernel's one client connection: a kernel's model
    counts its clients on every hub, a hub's status only those it carries itself (and the
    scenario's client is the only one connected)."""
    serving = []
    async with httpx.AsyncClient(headers={"Authorization": f"token {TOKEN}"}) as http:
        model = (await http.get(f"{cluster.hubs[1].url}api/kernels/{kernel_id}")).json()
        assert model["connections"] == 1, model
        for number, hub in sorted(cluster.hubs.items()):
            status = (await http.get(f"{hub.url}api/status")).json()
            serving += [number] * status["connections"]
    assert len(serving) == 1, f"connections by hub: {serving}"
    return serving[0]


async def test_a_print_survives_its_hub_killed(cluster: Cluster) -> None:
    killed: list[int] = []

    async def kill_its_hub(kernel_id: str) -> None:
        killed.append(await serving_hub(cluster, kernel_id))
        cluster.kill_hub(killed[0])

    try:
        await interrupted_print(cluster, kill_its_hub)
    finally:
        for number in killed:
            cluster.start_hub(number)


async def test_a_print_survives_the_active_haproxy_killed(cluster: Cluster) -> None:
    [active] = cluster.holders()
    [other] = set(cluster.balancers) - {active}

    async def kill_active_haproxy(kernel_id: str) -> None:
        cluster.balancers[active].kill_haproxy()
        moved = f"the virtual address moved from load balancer {active} to {other}"
        await until(lambda: cluster.holders() == [other], moved, MOVED_WITHIN)

    try:
        await interrupted_print(cluster, kill_active_haproxy)
    finally:
        haproxy = cluster.balancers[active].haproxy
        if haproxy is not None and haproxy.process.poll() is not None:
            cluster.balancers[active].start_haproxy()


async def test_a_worker_cut_off_the_network(cluster: Cluster) -> None:
    host = cluster.workers[2].host
    async with Client(cluster) as client, contextlib.AsyncExitStack() as stack:
        on = await kernels_on(client, cluster, (1, 2, 3))
        kernels = {
            number: await stack.enter_async_context(
                await KernelClient.connect(cluster.client_url, TOKEN, kernel_id)
            )
            for number, kernel_id in on.items()
        }
        deadline = time.monotonic() + DEAD_WITHIN
        host.cut()
        try:
            async with asyncio.timeout(DEAD_WITHIN):
                assert UNREACHABLE in await kernels[2].dead_reason(timeout=DEAD_WITHIN)
            await until(
                lambda: every_hub(cluster, f"api/kernels/{on[2]}", lambda r: gone(r, UNREACHABLE)),
                "every hub answers 404, its host is unreachable",
                deadline - time.monotonic(),
            )
            await until(
                lambda: every_hub(
                    cluster, "api/workers", lambda r: not listed_worker(r, "worker-2")["connected"]
                ),
                "every hub has worker 2 disconnected",
                deadline - time.monotonic(),
            )
            for number in (1, 3):
                await runs_code(kernels[number])
            new = await at_once(6, lambda _: client.start_kernel())
            assert set(cluster.placement(new).values()) <= {1, 3}
        finally:
            host.restore()
        await until(
            lambda: every_hub(cluster, f"api/kernels/{on[2]}", lambda r: r.status_code == 200),
            "every hub lists worker 2's kernel again",
            BACK_WITHIN,
        )


async def test_a_worker_added_to_the_workers_file(cluster: Cluster) -> None:
    cluster.start_worker(4)
    async with Client(cluster) as client:
        cluster.write_workers_file()

        async def placed_on_worker_4() -> bool:
            kernel_id = await client.start_kernel()
            return cluster.placement([kernel_id])[kernel_id] == 4

        await until(placed_on_worker_4, "a new kernel on worker 4", ADDED_WITHIN, interval=0.1)


async def test_a_worker_drained(cluster: Cluster) -> None:
    async with Client(cluster) as client:
        on = await kernels_on(client, cluster, (1,))
        async with await KernelClient.connect(cluster.client_url, TOKEN, on[1]) as kept:
            cluster.write_workers_file(draining=(1,))
            try:
                await until(
                    lambda: every_hub(
                        cluster,
                        "api/workers",
                        lambda r: listed_worker(r, "worker-1")["state"] == "draining",
                    ),
                    "every hub has worker 1 draining",
                )
                new = await at_once(12, lambda _: client.start_kernel())
                assert 1 not in cluster.placement(new).values()
                await runs_code(kept)
            finally:
                cluster.write_workers_file()
