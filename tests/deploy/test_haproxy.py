"""HAProxy as deploy/render.py configures it, in front of two real hubs on one PostgreSQL that
share one worker: kernels start and run through it, on either hub; the hubs believe the client
address HAProxy forwards, and nobody else's; and its health checks take a hub out while it does
not answer or is not ready (hub/health_api.py), and back in once it is.

HAProxy's view of the hubs is read from its Prometheus endpoint, on its stats port.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cellhub.deploy.render import Endpoint
from tests.conftest import RunningHub, start_cellhub
from tests.db.postgres import running_postgres
from tests.deploy.haproxy import RunningHAProxy, needs_haproxy, running_haproxy
from tests.hub.worker_processes import Workers
from tests.kernel_client import KernelClient
from tests.polling import until

pytestmark = needs_haproxy

TOKEN = "haproxy-test-t0ken"
#: HAProxy reaches the hubs from 127.0.0.1; the test's clients come from other loopback
#: addresses, and may each hold one kernel.
HUB_SETTINGS = {
    "CELLHUB_TOKEN": TOKEN,
    "CELLHUB_FORWARDED_ALLOW_IPS": "127.0.0.1",
    "CELLHUB_CLIENT_MAX_KERNELS": "1",
}
BOTH_UP = {"hub1": "UP", "hub2": "UP"}


@dataclass
class Cluster:
    workers: Workers
    worker: str
    hubs: list[RunningHub]
    haproxy: RunningHAProxy


def start_hub(data: Path, worker: str, database: str) -> RunningHub:
    argv = ["hub", "--data-dir", str(data), "--port", "0", "--workers", worker]
    return start_cellhub(data, HUB_SETTINGS, [*argv, "--database-url", database])


def endpoint(hub: RunningHub) -> Endpoint:
    where = urlsplit(hub.url)
    assert where.hostname is not None and where.port is not None
    return Endpoint(where.hostname, where.port)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """PostgreSQL, a worker, two hubs started one after the other (the first migrates the
    database), and HAProxy; stopped in the reverse order."""
    root = tmp_path_factory.mktemp("haproxy")
    workers = Workers(root / "workers")
    with running_postgres(root / "postgres") as database, contextlib.ExitStack() as stack:
        stack.callback(workers.stop)
        worker = workers.start("w", max_sessions=16)
        hubs = []
        for name in ("hub1", "hub2"):
            hubs.append(start_hub(root / name, worker, database))
            stack.callback(hubs[-1].stop)
        haproxy = stack.enter_context(
            running_haproxy([endpoint(hub) for hub in hubs], root / "haproxy")
        )
        yield Cluster(workers, worker, hubs, haproxy)


async def states(cluster: Cluster, wanted: dict[str, str], what: str) -> None:
    """Wait for HAProxy to see the hubs as ``wanted``; if it does not, say what each hub
    answers its health check, and what the hubs and the worker printed last."""
    try:
        await until(
            lambda: cluster.haproxy.server_states() == wanted, what, timeout=60, interval=0.2
        )
    except AssertionError as failure:
        seen = cluster.haproxy.server_states()
        hubs = [await hub_condition(hub) for hub in cluster.hubs]
        worker = "the worker:\n" + "".join(cluster.workers.output[cluster.worker][-15:])
        raise AssertionError(
            "\n".join([f"{failure}; HAProxy sees {seen}", *hubs, worker])
        ) from None


async def hub_condition(hub: RunningHub) -> str:
    """The hub's health answer and its last lines of output, for a failure's message."""
    async with as_client("127.0.0.1") as http:
        try:
            health = (await http.get(f"{hub.url}api/health", timeout=5)).text
        except httpx.HTTPError as exc:
            health = repr(exc)
    return f"{hub.url}api/health: {health}\n" + "".join(hub.output[-15:])


def as_client(peer: str, forwarded_for: str = "") -> httpx.AsyncClient:
    """A REST client with the token, connecting from ``peer`` (a loopback address)."""
    headers = {"Authorization": f"token {TOKEN}"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    transport = httpx.AsyncHTTPTransport(local_address=peer)
    return httpx.AsyncClient(transport=transport, headers=headers, timeout=60)


async def start_as(url: str, peer: str, forwarded_for: str = "") -> httpx.Response:
    async with as_client(peer, forwarded_for) as http:
        return await http.post(f"{url}api/kernels", json={"name": "python3"})


async def shut_down(url: str, kernel_ids: list[str]) -> None:
    async with as_client("127.0.0.1") as http:
        for kernel_id in kernel_ids:
            await http.delete(f"{url}api/kernels/{kernel_id}")


async def connections(hub: RunningHub) -> int:
    """The WebSockets this hub carries (``GET /api/status``)."""
    async with as_client("127.0.0.1") as http:
        status = (await http.get(f"{hub.url}api/status")).json()
    return int(status["connections"])


async def test_kernels_run_through_haproxy_on_either_hub(cluster: Cluster) -> None:
    await states(cluster, BOTH_UP, "both hubs in service")
    url = cluster.haproxy.url
    peers = ["127.0.0.11", "127.0.0.12"]
    started = [await start_as(url, peer) for peer in peers]
    assert [answer.status_code for answer in started] == [201, 201], [s.text for s in started]
    kernel_ids = [answer.json()["id"] for answer in started]
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(shut_down, url, kernel_ids)
        for peer, kernel_id in zip(peers, kernel_ids, strict=True):
            socket = await KernelClient.connect(url, TOKEN, kernel_id, local_addr=(peer, 0))
            await stack.enter_async_context(socket)
            run = await socket.execute(f"print('{peer}', 6 * 7)")
            assert run.stream_text() == f"{peer} 42\n", run.explain()
        # leastconn: the second WebSocket went to the hub that held none
        assert [await connections(hub) for hub in cluster.hubs] == [1, 1]


async def test_hubs_believe_the_client_address_haproxy_forwards(cluster: Cluster) -> None:
    """Each client address may hold one kernel: two clients behind the one HAProxy are told
    apart, and neither a client's own X-Forwarded-For through HAProxy nor one sent straight
    to a hub makes it someone else."""
    await states(cluster, BOTH_UP, "both hubs in service")
    url, hub = cluster.haproxy.url, cluster.hubs[0].url
    first = await start_as(url, "127.0.0.21")
    second = await start_as(url, "127.0.0.22")
    held = [answer.json()["id"] for answer in (first, second) if answer.status_code == 201]
    try:
        assert (first.status_code, second.status_code) == (201, 201), second.text
        through = await start_as(url, "127.0.0.21", forwarded_for="127.0.0.23")
        assert through.status_code == 429, through.text
        straight = await start_as(hub, "127.0.0.21", forwarded_for="127.0.0.24")
        assert straight.status_code == 429, straight.text
    finally:
        await shut_down(url, held)


async def test_a_hub_that_stops_answering_is_taken_out(cluster: Cluster) -> None:
    await states(cluster, BOTH_UP, "both hubs in service")
    stopped = cluster.hubs[1].process
    os.kill(stopped.pid, signal.SIGSTOP)
    try:
        await states(cluster, {"hub1": "UP", "hub2": "DOWN"}, "hub2 out of service")
        async with as_client("127.0.0.31") as http:
            for _ in range(6):
                assert (await http.get(f"{cluster.haproxy.url}api/kernels")).status_code == 200
    finally:
        os.kill(stopped.pid, signal.SIGCONT)
    await states(cluster, BOTH_UP, "hub2 back in service")


async def test_hubs_without_a_worker_are_out_until_it_returns(cluster: Cluster) -> None:
    await states(cluster, BOTH_UP, "both hubs in service")
    cluster.workers.kill(cluster.worker)
    cluster.workers.processes[cluster.worker].wait(15)
    await states(cluster, {"hub1": "DOWN", "hub2": "DOWN"}, "both hubs out of service")
    async with as_client("127.0.0.41") as http:
        refused = await http.get(f"{cluster.haproxy.url}api/kernels")
    assert refused.status_code == 503 and "No server is available" in refused.text
    assert cluster.workers.start("w", max_sessions=16) == cluster.worker
    await states(cluster, BOTH_UP, "both hubs back with their worker")
    started = await start_as(cluster.haproxy.url, "127.0.0.41")
    assert started.status_code == 201, started.text
    await shut_down(cluster.haproxy.url, [started.json()["id"]])
