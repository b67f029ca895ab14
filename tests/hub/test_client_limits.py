"""Anti-DOS at the hub: per-client budgets, and one abusive client cannot slow the others.
The kernels a client holds are counted in the database: those tests run on SQLite and on
PostgreSQL (tests/hub/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from cellhub.db.database import make_engine, upgrade
from cellhub.db.kernels import KernelRepository
from cellhub.hub.kernels import KernelService, OwnerLimit, TooManyKernels
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


async def test_a_kernel_shut_down_twice_at_once_leaves_room_at_once(limited: RunningHub) -> None:
    """A reloaded page shuts its last kernel down again while the old page's shutdown may
    still be under way (frontend/src/kernel/connection.ts): whichever answer comes first,
    the kernel no longer counts against the client's limit, so its next start is let in."""
    for round_ in range(3):
        async with client_from(limited, f"127.0.0.{40 + round_}") as client:
            kept = [(await client.post("/api/kernels")).json()["id"] for _ in range(3)]
            leaving = asyncio.create_task(client.delete(f"/api/kernels/{kept[0]}"))
            await asyncio.sleep(0.002 * round_)
            again = await client.delete(f"/api/kernels/{kept[0]}")
            assert again.status_code in (204, 404), again.text
            started = await client.post("/api/kernels")
            assert started.status_code == 201, (round_, started.text)
            assert (await leaving).status_code in (204, 404)
            for kernel_id in [*kept[1:], started.json()["id"]]:
                await client.delete(f"/api/kernels/{kernel_id}")


async def test_a_kernel_known_to_have_ended_is_not_counted_before_its_record_says_so(
    tmp_path: Path, database_url: str
) -> None:
    """The moment the race above opens: the worker has said the kernel ended, so the hub
    answers 404 for it, and its record still says it lives."""
    engine = make_engine(database_url or f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        upgrade(engine)
        service = KernelService(KernelRepository(engine), [])
        owner, limit = f"anonymous:{uuid.uuid4()}", [OwnerLimit(2, "at most {most}")]
        ids = [str(uuid.uuid4()) for _ in range(2)]
        for kernel_id in ids:
            service.repository.add(kernel_id, "python3", "w", owner)
        with pytest.raises(TooManyKernels, match="at most 2"):
            await service.check_room(owner, limit)
        service.forget(ids[0], "shut down by request", announce=False)
        await service.check_room(owner, limit)
        service.repository.end(ids[0], "shut down by request")
        await service.check_room(owner, limit)
    finally:
        engine.dispose()


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
