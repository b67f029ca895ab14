"""The hub↔worker handshake: a hub and a worker of different protocol versions refuse each
other with a message naming both versions, instead of misreading each other's frames.

The real :class:`WorkerLink` and the real worker's connection handler talk over a Unix
socket; the other end, where it must speak another version, is written frame by frame.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from cellhub.config import load_config
from cellhub.hub.workers import WorkerLink
from cellhub.protocol import addresses, framing, hub_worker
from cellhub.worker.server import Worker
from tests.polling import until

OTHER = hub_worker.VERSION + 1
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def listening(handler: Handler) -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(dir="/tmp") as directory:  # short: a socket path
        server, address = await addresses.listen_unix(handler, Path(directory) / "w.sock")
        try:
            yield address
        finally:
            server.close()


def link_to(address: str) -> WorkerLink:
    return WorkerLink(address, ssl.create_default_context(), lambda *_: None)


def worker(tmp_path: Path) -> Worker:
    return Worker(load_config(environ={}, overrides={"data_dir": str(tmp_path)}))


def answering(first: list[Any]) -> Handler:
    """A worker that reads the hub's hello and answers ``first``."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await framing.read_frame(reader)
            writer.write(framing.encode(first))
            await writer.drain()
            await reader.read()  # until the hub hangs up
        finally:
            writer.close()

    return handler


async def test_a_hub_and_a_worker_of_one_version_agree(tmp_path: Path) -> None:
    async with listening(worker(tmp_path).on_hub) as address:
        link = link_to(address)
        await link.start()
        try:
            assert await link.list_kernels() == []
        finally:
            await link.stop()


async def test_the_hub_refuses_a_worker_of_another_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with listening(answering(hub_worker.hello(OTHER))) as address:
        link = link_to(address)
        with pytest.raises(hub_worker.ProtocolError) as refused:
            await link.start()
    message = str(refused.value)
    assert f"version {OTHER}" in message and f"this hub version {hub_worker.VERSION}" in message
    assert "same cellhub release" in message
    assert message in capsys.readouterr().err


async def test_the_hub_refuses_a_worker_from_before_the_handshake() -> None:
    # What such a worker answers a hello with: a failed request (it takes it for one).
    old_answer = hub_worker.failure(1, 500, "IndexError: list index out of range")
    async with listening(answering(old_answer)) as address:
        with pytest.raises(hub_worker.ProtocolError, match="no versioned protocol"):
            await link_to(address).start()


async def first_answer(address: str, first: list[Any]) -> list[Any]:
    """Send ``first`` as a hub would; return every frame the worker sends until it closes."""
    reader, writer = await addresses.connect(address, ssl.create_default_context())
    writer.write(framing.encode(first))
    frames = []
    try:
        while True:
            frames.append(await asyncio.wait_for(framing.read_frame(reader), 5))
    except asyncio.IncompleteReadError:
        return frames
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("first", "named"),
    [
        (hub_worker.hello(OTHER), f"version {OTHER}"),
        (hub_worker.request(1, hub_worker.ListKernels(None)), "no versioned protocol"),
    ],
    ids=["another version", "before the handshake"],
)
async def test_the_worker_refuses_a_hub_of_another_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: list[Any], named: str
) -> None:
    the_worker = worker(tmp_path)
    async with listening(the_worker.on_hub) as address:
        frames = await first_answer(address, first)
    assert len(frames) == 1  # the refusal, then the worker hangs up
    message = hub_worker.mismatch(frames[0], "worker", "hub")
    assert message is not None and named in message
    assert f"this worker version {hub_worker.VERSION}" in message
    assert named in capsys.readouterr().err
    assert not the_worker.hubs


class Heard:
    """The hub's side of read_worker_frame, keeping the load reports it is handed."""

    def __init__(self) -> None:
        self.loads: list[hub_worker.Load] = []

    def load(self, report: hub_worker.Load) -> None:
        self.loads.append(report)


def test_a_load_report_reads_back_as_it_was_sent() -> None:
    report = hub_worker.Load(
        free=2,
        running=1,
        capacity=3,
        memory=5 * 2**30,
        interval=0.5,
        kernels=("python3", "sage"),
        spares={"python3": 2, "sage": 0},
        ended={"culled": 3, "killed": 1},
        flow_pauses=7,
        kills={"oom": 2, "cpu": 1},
    )
    heard = Heard()
    frame = framing.decode(framing.encode(hub_worker.load(report))[framing.HEADER.size :])
    hub_worker.read_worker_frame(frame, cast(hub_worker.WorkerFrames, heard))
    assert heard.loads == [report]


async def test_a_worker_reports_its_load_to_a_hub_on_connect(tmp_path: Path) -> None:
    the_worker = worker(tmp_path)
    async with listening(the_worker.on_hub) as address:
        link = link_to(address)
        await link.start()
        try:
            await until(lambda: link.last_load is not None, "the worker's load report")
        finally:
            await link.stop()
    report = link.last_load or hub_worker.Load(0, 0, 0, 0, 0)
    capacity = the_worker.config.max_sessions
    assert (report.free, report.running, report.capacity) == (capacity, 0, capacity)
    assert report.memory > 0 and report.interval == the_worker.config.load_interval
    assert report.kernels == the_worker.offer.names
    assert report.spares.keys() == set(the_worker.offer.names)
    assert report.ended == {} and report.flow_pauses == 0
