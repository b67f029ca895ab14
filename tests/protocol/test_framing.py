"""The length-prefixed frames between hub, worker and session: a frame round-trips; an
oversized one is refused before its body is read; garbage and a cut stream are errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from cellhub.protocol import framing


def test_round_trip_over_a_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        framing.send_frame(a, ["msg", "iopub", b"\x00\xff", None, {"k": 1}])
        assert framing.recv_frame(b) == ["msg", "iopub", b"\x00\xff", None, {"k": 1}]


def test_oversized_frame_is_refused_before_it_is_read() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(framing.HEADER.pack(10**9))
        with pytest.raises(framing.FrameError, match="exceeds"):
            framing.recv_frame(b, max_frame=1024)


def test_garbage_is_a_frame_error() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(framing.HEADER.pack(3) + b"\xc1\xc1\xc1")
        with pytest.raises(framing.FrameError):
            framing.recv_frame(b)


def test_end_of_stream() -> None:
    a, b = socket.socketpair()
    a.close()
    with b, pytest.raises(EOFError):
        framing.recv_frame(b)


async def test_async_reader() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(framing.encode({"op": "start"}) + framing.encode([1, 2]))
    reader.feed_eof()
    assert await framing.read_frame(reader) == {"op": "start"}
    assert await framing.read_frame(reader) == [1, 2]
    with pytest.raises(asyncio.IncompleteReadError):
        await framing.read_frame(reader)
