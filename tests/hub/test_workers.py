"""A hub's link to a worker notices a worker that falls silent (a host off the network
leaves the connection open), but not one that talks, even when the hub itself was stalled.

The worker here is a peer of the test's own that speaks the protocol's handshake and load
reports and nothing else: what is tested is the link's reading of silence; real workers
lost and back are in test_lost_workers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cellhub.hub.workers import WorkerError, WorkerLink
from cellhub.protocol import addresses, framing, hub_worker
from tests.polling import until

#: The link's least silence limit here; the peer's reports promise one every INTERVAL.
TIMEOUT = 0.5
INTERVAL = 0.05


class Peer:
    """A worker that answers the handshake, then reports its load every INTERVAL while
    ``talking`` (counting its reports), and says nothing otherwise."""

    def __init__(self, talking: bool) -> None:
        self.talking = talking
        self.reports = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await framing.read_frame(reader)
        writer.write(framing.encode(hub_worker.hello()))
        report = framing.encode(hub_worker.load(hub_worker.Load(1, 0, 1, 0, INTERVAL)))
        while self.talking and not writer.is_closing():
            writer.write(report)
            self.reports += 1
            await asyncio.sleep(INTERVAL)
        await reader.read()
        writer.close()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def linked(
    tmp_path: Path,
    peer: Peer,
    lost: list[WorkerLink],
    on_lost: Callable[[WorkerLink], None] | None = None,
) -> AsyncIterator[WorkerLink]:
    """A link to ``peer``, which appends itself to ``lost`` when lost (or calls ``on_lost``)."""
    server, address = await addresses.listen_unix(peer.serve, tmp_path / "w.sock")
    link = WorkerLink(
        address,
        ssl.create_default_context(),
        lambda *_: None,
        on_lost=on_lost or lost.append,
        timeout=TIMEOUT,
    )
    await link.start()
    try:
        yield link
    finally:
        await link.stop()
        server.close()
        await peer.close()


async def test_a_silent_worker_is_lost_and_its_requests_fail(tmp_path: Path) -> None:
    lost: list[WorkerLink] = []
    async with linked(tmp_path, Peer(talking=False), lost) as link:
        with pytest.raises(WorkerError) as failed:
            await link.list_kernels()
        assert failed.value.status == 502
        await until(lambda: lost == [link], "the silent worker lost")
        assert link.lost and not link.connected.is_set()


async def test_a_talking_worker_is_kept_though_the_hub_stalls(tmp_path: Path) -> None:
    lost: list[WorkerLink] = []
    peer = Peer(talking=True)
    async with linked(tmp_path, peer, lost) as link:
        await until(lambda: peer.reports > 2 * TIMEOUT / INTERVAL, "reports for two limits")
        time.sleep(2 * TIMEOUT)  # the hub's event loop (and the peer's) stalls
        after = peer.reports
        await until(lambda: peer.reports > after + TIMEOUT / INTERVAL, "reports for a limit")
        assert lost == [] and link.connected.is_set()


async def test_a_link_outlives_an_error_of_the_hubs_own(tmp_path: Path) -> None:
    """The hub's handler of a loss fails (a bug, say): the link logs it and goes on
    connecting, as it would have without the failure."""
    lost: list[WorkerLink] = []

    def failing(link: WorkerLink) -> None:
        lost.append(link)
        raise RuntimeError("a bug in the hub's on_lost")

    async with linked(tmp_path, Peer(talking=False), lost, failing) as link:
        await until(lambda: len(lost) == 1, "the silent worker lost")
        await until(lambda: link.connections >= 2, "connected again", timeout=5)
        assert link.task is not None and not link.task.done()
