"""Kernels spread over real workers by their load: a hub fills workers evenly, passes a start
that meets a full or dead worker to the next without the client noticing, and answers 503
only when every worker is full.

Each test runs ``cellhub worker`` processes on Unix sockets and one ``cellhub hub`` over them
(tests/hub/worker_processes.py), and looks at each worker's kernels through a connection of
its own, as a second hub would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from pathlib import Path
from typing import Any

from cellhub.protocol import addresses, framing, hub_worker
from tests.hub.worker_processes import Workers, hub_over, kernels_on, linked, start
from tests.kernel_client import Hub

#: The operations the relay looks at: a load report, and a reply (which may be a failure).
LOAD = hub_worker.load(hub_worker.Load(0, 0, 0, 0, 0))[0]
REPLY = hub_worker.reply(0, None)[0]


class Relay:
    """Passes frames between a hub and a worker, but only the worker's first load report:
    the hub goes on believing the worker as free as it was then. Keeps the statuses of the
    worker's failed replies."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.failures: list[int] = []
        self.loads = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay until either side closes (the hub's leaving must end it: the worker
        outlives the test's event loop)."""
        upstream, downstream = await addresses.connect(self.worker, ssl.create_default_context())
        asking = asyncio.ensure_future(self.pass_on(reader, downstream, lambda _: True))
        answering = asyncio.ensure_future(self.pass_on(upstream, writer, self.heard))
        try:
            await asyncio.wait({asking, answering}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            asking.cancel()
            answering.cancel()
            writer.close()
            downstream.close()

    @staticmethod
    async def pass_on(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: Any
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                frame = await framing.read_frame(reader)
                if keep(frame):
                    writer.write(framing.encode(frame))

    def heard(self, frame: Any) -> bool:
        if frame[0] == LOAD:
            self.loads += 1
            return self.loads == 1
        if frame[0] == REPLY and frame[2] is False:
            self.failures.append(int(frame[3]["status"]))
        return True


async def test_a_start_that_meets_a_full_worker_goes_to_the_next(
    tmp_path: Path, workers: Workers
) -> None:
    # a reports 3 free (more than b's 2) once, long-lived, and then nothing more reaches the
    # hub: it places the first start on a, which the test has filled meanwhile.
    a, b = workers.start("a", 3, load_interval=600), workers.start("b", 2)
    relay = Relay(a)
    server, relayed = await addresses.listen_unix(relay.serve, tmp_path / "relay.sock")
    try:
        async with hub_over(tmp_path, relayed, b) as running, linked(a) as direct:
            for _ in range(3):
                await direct.start_kernel(str(uuid.uuid4()), "python3")
            hub = Hub(running.url, running.token)
            try:
                assert (await start(hub)).status_code == 201
                assert (await start(hub)).status_code == 201
                refused = await start(hub)
            finally:
                await hub.aclose()
    finally:
        server.close()
    assert relay.failures == [503], "the hub should have tried a once, and then not again"
    assert [await kernels_on(a), await kernels_on(b)] == [3, 2]
    assert refused.status_code == 503
    assert "every worker is full (2 workers, 2 to 3 sessions each)" in refused.json()["message"]


async def test_starts_go_around_a_killed_worker(tmp_path: Path, workers: Workers) -> None:
    # a, the bigger, is the hub's first choice until it notices that a is gone.
    a, b = workers.start("a", 4), workers.start("b", 3)
    async with hub_over(tmp_path, a, b) as running:
        hub = Hub(running.url, running.token)
        try:
            workers.kill(a)
            answers = [(await start(hub)).status_code for _ in range(3)]
        finally:
            await hub.aclose()
    assert answers == [201, 201, 201]
    assert await kernels_on(b) == 3
