"""Any hub serves any kernel: two hubs on one PostgreSQL and one worker, a kernel started
through hub A listed, attached, interrupted, restarted and shut down through hub B, and a
client of a hub killed mid-print resuming through the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conftest import RunningHub
from tests.db.postgres import free_port, running_postgres
from tests.hubs import Received, print_until_killed, resume_printing, start_hub, start_worker
from tests.kernel_client import Hub, KernelClient
from tests.polling import until

TOKEN = "any-hub-t0ken"


@dataclass
class Deployment:
    """Hubs ``a`` and ``b`` on one database, in front of one worker."""

    a: RunningHub
    b: RunningHub
    worker: str
    #: The hubs' settings: the database's URL.
    env: dict[str, str]
    data_dir: Path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("any-hub")
    data_dir = workdir / "data"
    data_dir.mkdir()
    with running_postgres(workdir / "pg") as url:
        worker, address = start_worker(data_dir)
        env = {"CELLHUB_DATABASE_URL": url}
        hubs: list[RunningHub] = []
        try:
            for _ in range(2):  # one after the other: each migrates the database as it starts
                hubs.append(start_hub(data_dir, address, free_port(), TOKEN, env))
            yield Deployment(hubs[0], hubs[1], address, env, data_dir)
        finally:
            for hub in hubs:
                hub.stop()
            worker.terminate()
            worker.wait(15)


@pytest.fixture
async def rest(deployment: Deployment) -> AsyncIterator[tuple[Hub, Hub]]:
    """REST clients of hub A and hub B."""
    a, b = Hub(deployment.a.url, TOKEN), Hub(deployment.b.url, TOKEN)
    yield a, b
    await a.aclose()
    await b.aclose()


async def counts(hub: Hub, kernel_id: str, clients: int) -> bool:
    """Whether ``hub`` reports ``clients`` connections of the kernel."""
    model = (await hub.http.get(f"/api/kernels/{kernel_id}")).json()
    return bool(model["connections"] == clients)


async def test_started_through_a_listed_and_attached_through_b(
    deployment: Deployment, rest: tuple[Hub, Hub]
) -> None:
    a, b = rest
    kernel_id = await a.start_kernel()
    listed = (await b.http.get("/api/kernels")).json()
    assert kernel_id in [model["id"] for model in listed]
    async with (
        await KernelClient.connect(a.url, TOKEN, kernel_id, session="watcher") as watcher,
        await KernelClient.connect(b.url, TOKEN, kernel_id, session="runner") as runner,
    ):
        for hub in (a, b):  # each hub counts every hub's clients of the kernel
            await until(partial(counts, hub, kernel_id, 2), "both clients counted", timeout=30)
            status = (await hub.http.get("/api/status")).json()
            assert status["connections"] == 1, "a hub's status counts the sockets it carries"
        run = await runner.execute("print('through B')")
        assert run.reply is not None and run.reply["content"]["status"] == "ok", run.explain()
        assert run.stream_text() == "through B\n"
        # The watcher's own request through A comes after the run on the kernel's one stream:
        # whatever the watcher got of the run came before its answer.
        info = await watcher.request("kernel_info_request", {})
        assert info.reply is not None and info.reply["header"]["msg_type"] == "kernel_info_reply"
        assert "through B\n" in stream_texts(watcher.other)
        assert [m for m in watcher.other if m["channel"] != "iopub"] == [], (
            "the reply to B's client goes to it alone, as Jupyter's per-client sockets do"
        )


def stream_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"]["text"] for m in messages if m["header"]["msg_type"] == "stream"]


def looped(client: KernelClient) -> bool:
    """Whether the request being collected has printed that its loop began."""
    return client.collecting is not None and client.collecting.stream_text() == "looping\n"


async def test_interrupted_restarted_and_shut_down_through_b(
    deployment: Deployment, rest: tuple[Hub, Hub]
) -> None:
    a, b = rest
    kernel_id = await a.start_kernel()
    async with await KernelClient.connect(a.url, TOKEN, kernel_id) as client:
        await client.execute("kept = 1")
        looping = asyncio.create_task(client.execute("print('looping')\nwhile True: pass"))
        await until(lambda: looped(client), "the loop running", timeout=60)
        assert (await b.http.post(f"/api/kernels/{kernel_id}/interrupt")).status_code == 204
        run = await looping
        assert run.reply is not None and run.reply["content"]["ename"] == "KeyboardInterrupt"
        assert (await client.execute("kept")).first("execute_result")["content"]["data"] == {
            "text/plain": "1"
        }

        restarted = await b.http.post(f"/api/kernels/{kernel_id}/restart")
        assert restarted.status_code == 200 and restarted.json()["id"] == kernel_id
        after = await client.execute("kept")
        assert after.reply is not None and after.reply["content"]["ename"] == "NameError"

        assert (await b.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
        with pytest.raises(websockets.ConnectionClosed):  # after the kernel's goodbye
            while True:
                await client.recv()
    gone = await a.http.get(f"/api/kernels/{kernel_id}")
    assert gone.status_code == 404, gone.text
    assert "shut down" in gone.json()["reason"]


async def test_a_client_of_a_killed_hub_resumes_through_another(
    deployment: Deployment, rest: tuple[Hub, Hub]
) -> None:
    """SIGKILL a third hub during a 10**5-line print; its client resumes through hub B."""
    doomed = start_hub(deployment.data_dir, deployment.worker, free_port(), TOKEN, deployment.env)
    received = Received()
    try:
        kernel_id = await rest[0].start_kernel()
        await print_until_killed(doomed, kernel_id, received)
    finally:
        doomed.stop()  # killed already, unless the test failed before
    await resume_printing(deployment.b, kernel_id, received)
