"""The worker's control socket to the template: a burst of requests is queued, not refused."""

from __future__ import annotations

import asyncio
import socket

import msgpack

from cellhub.worker.template_client import TemplateClient

BURST = 5000  # far more kill requests than a SOCK_SEQPACKET buffer holds


async def test_a_burst_waits_for_room_and_arrives_whole_and_in_order() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    theirs.setblocking(False)
    lost: list[bool] = []
    client = TemplateClient(
        {}, lambda pid, sock: None, lambda pid, code, limits: None, lambda: lost.append(True), {}
    )
    client.control = ours
    try:
        for pid in range(BURST):
            client.kill(pid)  # the template is not reading: the socket fills up
        received: list[list[object]] = []
        async with asyncio.timeout(30):
            while len(received) < BURST:
                try:
                    received.append(msgpack.unpackb(theirs.recv(4096), raw=False))
                except BlockingIOError:
                    await asyncio.sleep(0.001)  # the loop sends more as room appears
        assert received == [["kill", pid] for pid in range(BURST)]
        assert not lost
    finally:
        client.stop()
        theirs.close()


async def test_a_signal_is_done_when_the_template_says_so_or_is_gone() -> None:
    """The worker answers an interrupt once its signal was sent: the template's answers
    complete the requests in order, and a lost template leaves none waiting."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    client = TemplateClient(
        {}, lambda pid, sock: None, lambda pid, code, limits: None, lambda: None, {}
    )
    client.control = ours
    try:
        first, second = client.signal(11, 2), client.signal(12, 2)
        assert [msgpack.unpackb(theirs.recv(4096)) for _ in range(2)] == [
            ["signal", 11, 2],
            ["signal", 12, 2],
        ]
        theirs.send(msgpack.packb(["signalled", 11]))
        client._on_readable()
        assert first.done() and not second.done()
    finally:
        client.stop()
        theirs.close()
    assert second.done()
