"""Length-prefixed msgpack frames: the wire format between hub, worker, template and sessions.

Every frame is a 4-byte big-endian length followed by that many bytes of msgpack.
The length is checked against a maximum before anything is read, so a peer that
sends garbage (or a hostile session writing to its own socket) costs at most one
frame's worth of memory and gets its connection closed, never an unbounded buffer.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import msgpack

HEADER = struct.Struct(">I")
DEFAULT_MAX_FRAME = 64 * 1024 * 1024


class FrameError(Exception):
    """A peer sent a frame that is too large or not valid msgpack."""


def encode(obj: Any) -> bytes:
    """Return one complete frame (length prefix included) for ``obj``."""
    body = msgpack.packb(obj, use_bin_type=True)
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> Any:
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise FrameError(f"invalid msgpack frame: {exc}") from exc


def _checked_length(header: bytes | bytearray, max_frame: int) -> int:
    length: int = HEADER.unpack(header)[0]
    if length > max_frame:
        raise FrameError(f"frame of {length} bytes exceeds the {max_frame}-byte limit")
    return length


#: What :func:`take_frame` returns while the buffer holds no whole frame yet.
INCOMPLETE: Any = object()


def take_frame(buf: bytearray, max_frame: int = DEFAULT_MAX_FRAME) -> Any:
    """Remove the first whole frame from ``buf`` and return it decoded, or
    :data:`INCOMPLETE` (``buf`` untouched) until the bytes for one have arrived."""
    if len(buf) < HEADER.size:
        return INCOMPLETE
    end = HEADER.size + _checked_length(buf[: HEADER.size], max_frame)
    if len(buf) < end:
        return INCOMPLETE
    body = bytes(buf[HEADER.size : end])
    del buf[:end]
    return decode(body)


async def read_frame(reader: asyncio.StreamReader, max_frame: int = DEFAULT_MAX_FRAME) -> Any:
    """Read one frame; raises ``asyncio.IncompleteReadError`` at end of stream."""
    length = _checked_length(await reader.readexactly(HEADER.size), max_frame)
    return decode(await reader.readexactly(length))


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise EOFError("peer closed the connection")
        got += k
    return bytes(buf)


def recv_frame(sock: socket.socket, max_frame: int = DEFAULT_MAX_FRAME) -> Any:
    """Blocking read of one frame from a socket; raises ``EOFError`` at end of stream."""
    length = _checked_length(_recv_exactly(sock, HEADER.size), max_frame)
    return decode(_recv_exactly(sock, length))


def send_frame(sock: socket.socket, obj: Any) -> None:
    """Blocking write of one frame; blocks while the peer is not reading (flow control)."""
    sock.sendall(encode(obj))


class BatchedWriter:
    """Frames sent in one turn of the event loop leave in one write.

    A kernel's reply is several messages produced together; joining them makes one
    TLS record and one system call instead of one per message.
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: list[bytes] = []

    def send(self, obj: Any) -> None:
        if self.writer.is_closing():
            return
        if not self.pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self.pending.append(encode(obj))

    def _flush(self) -> None:
        data = b"".join(self.pending)
        self.pending.clear()
        if not self.writer.is_closing():
            self.writer.write(data)
