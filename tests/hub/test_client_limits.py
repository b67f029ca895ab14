"""Anti-DOS at the hub: per-client budgets, and one abusive client cannot slow the others.
The kernels a client holds are counted in the database: those tests run on SQLite and on
PostgreSQL (tests/hub/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.conftest import RunningHub, start_cellhub
from tests.hub.databases import database_env
from tests.kernel_client import KernelClient, request_message
from tests.polling import until

pytestmark = pytest.mark.both_databases

LIMITS = {
    "CELLHUB_CLIENT_KERNEL_STARTS": "5",
    "CELLHUB_CLIENT_MAX_KERNELS": "3",
    "CELLHUB_CLIENT_MESSAGE_RATE": "200",
}


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[RunningHub]:
    env = {**LIMITS, **database_env(module_database_url)}
    server = start_cellhub(tmp_path_factory.mktemp("limited"), env=env)
    yield server
    server.stop()


def client_from(server: RunningHub, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address`` (any of 127.0.0.0/8)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    headers = {"Authorization": f"token {server.token}"}
    return httpx.AsyncClient(base_url=server.url, headers=headers, transport=transport)


async def test_concurrent_kernels_per_client(limited: RunningHub) -> None:
    async with client_from(limited, "127.0.0.11") as client:
        started = [await client.post("/api/kernels") for _ in range(3)]
        assert [r.status_code for r in started] == [201, 201, 201]
        refused = await client.post("/api/kernels")
        assert refused.status_code == 429 and "kernels" in refused.json()["message"]
        await client.delete(f"/api/kernels/{started[0].json()['id']}")
        again = await client.post("/api/kernels")
        assert again.status_code == 201
        for r in [*started[1:], again]:
            await client.delete(f"/api/kernels/{r.json()['id']}")
    async with client_from(limited, "127.0.0.12") as other:
        assert (await other.post("/api/kernels")).status_code == 201


async def test_starts_at_the_same_moment_cannot_pass_the_limit_together(
    limited: RunningHub,
) -> None:
    async with client_from(limited, "127.0.0.16") as client:
        answers = await asyncio.gather(*(client.post("/api/kernels") for _ in range(5)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 201, 201, 429, 429], [r.text for r in answers]
        for r in answers:
            if r.status_code == 201:
                await client.delete(f"/api/kernels/{r.json()['id']}")


@pytest.mark.sqlite_only("a budget the hub keeps in memory")
async def test_kernel_start_rate_per_client(limited: RunningHub) -> None:
    async with client_from(limited, "127.0.0.13") as client:
        codes = []
        for _ in range(7):
            response = await client.post("/api/kernels")
            codes.append(response.status_code)
            if response.status_code == 201:
                await client.delete(f"/api/kernels/{response.json()['id']}")
            else:
                assert int(response.headers["retry-after"]) >= 1
        assert codes[:5] == [201] * 5 and 429 in codes[5:]


async def round_trips(kernel: KernelClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await kernel.request("kernel_info_request", {})
        times.append(time.perf_counter() - start)
    return times


@pytest.mark.sqlite_only("a budget the hub keeps in memory")
async def test_a_flooding_client_does_not_slow_another(limited: RunningHub) -> None:
    async with (
        client_from(limited, "127.0.0.14") as flooder_http,
        client_from(limited, "127.0.0.15") as calm_http,
    ):
        flood_kernel = (await flooder_http.post("/api/kernels")).json()["id"]
        calm_kernel = (await calm_http.post("/api/kernels")).json()["id"]
    ws_base = limited.url.replace("http", "ws", 1)
    calm = KernelClient(
        await websockets.connect(
            f"{ws_base}api/kernels/{calm_kernel}/channels?token={limited.token}",
            local_addr=("127.0.0.15", 0),
        )
    )
    before = statistics.median(await round_trips(calm, 30))
    flood_ws = await websockets.connect(
        f"{ws_base}api/kernels/{flood_kernel}/channels?token={limited.token}",
        local_addr=("127.0.0.14", 0),
    )
    sent = 0
    message = json.dumps(request_message("kernel_info_request", {}))

    async def flood() -> None:
        nonlocal sent
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            await flood_ws.send(message)
            sent += 1

    flooding = asyncio.create_task(flood())
    await until(lambda: sent >= 500, "the flood under way")
    during = statistics.median(await round_trips(calm, 30))
    await flooding
    await flood_ws.close()
    await calm.close()
    assert sent > 1000, "the flood should have been a flood"
    assert during < max(10 * before, 0.05), (before, during)
