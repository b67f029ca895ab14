"""Jupyter's binary WebSocket framing, for messages that carry binary ``buffers`` (widgets).

A binary frame is ``[n: u32][offset_0 … offset_{n-1}: u32][json][buffer_1]…`` (big-endian):
``n`` counts the JSON part as the first of the n parts, and each offset is where a part
starts. This is the framing Jupyter Server uses when no WebSocket subprotocol is chosen.
Inside cellhub, buffers travel base64-encoded in the message's JSON ``buffers`` list, so
sessions and workers see one format.
"""

from __future__ import annotations

import base64
import itertools
import struct
from typing import Any

import orjson

MAX_PARTS = 1024


class BinaryFrameError(ValueError):
    """The frame is not in Jupyter's binary message format."""


def split_frame(frame: bytes) -> tuple[bytes, list[bytes]]:
    """Return the JSON part and the buffers of a binary frame."""
    if len(frame) < 8:
        raise BinaryFrameError("binary frame too short")
    (parts,) = struct.unpack_from(">I", frame)
    if not 1 <= parts <= MAX_PARTS or len(frame) < 4 * (parts + 1):
        raise BinaryFrameError("binary frame has a bad part count")
    offsets = [*struct.unpack_from(f">{parts}I", frame, 4), len(frame)]
    if offsets[0] != 4 * (parts + 1) or any(a > b for a, b in itertools.pairwise(offsets)):
        raise BinaryFrameError("binary frame has bad offsets")
    chunks = [frame[a:b] for a, b in itertools.pairwise(offsets)]
    return chunks[0], chunks[1:]


def to_json_with_buffers(frame: bytes) -> bytes:
    """A client's binary frame as one JSON message whose ``buffers`` are base64 strings."""
    text, buffers = split_frame(frame)
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BinaryFrameError(f"binary frame's JSON part is invalid: {exc}") from exc
    if not isinstance(msg, dict):
        raise BinaryFrameError("binary frame's JSON part is not an object")
    msg["buffers"] = [base64.b64encode(b).decode() for b in buffers]
    try:
        return orjson.dumps(msg)
    except orjson.JSONEncodeError as exc:
        raise BinaryFrameError(f"binary frame's JSON part cannot be re-encoded: {exc}") from exc


def from_json_with_buffers(msg: dict[str, Any]) -> bytes:
    """The binary frame for a message whose ``buffers`` are base64 strings."""
    try:
        buffers = [base64.b64decode(b) for b in msg.pop("buffers", [])]
        parts = [orjson.dumps(msg), *buffers]
    except (TypeError, ValueError) as exc:  # binascii.Error and orjson's errors among them
        raise BinaryFrameError(f"message cannot be framed: {exc}") from exc
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f">{len(parts) + 1}I", len(parts), *offsets) + b"".join(parts)
