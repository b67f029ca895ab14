"""Jupyter Server's ``v1.kernel.websocket.jupyter.org`` WebSocket framing.

Jupyter Server 2 offers this subprotocol, and @jupyterlab/services asks for it first
(a server that accepts none makes its first socket fail, then it retries without).
Every message, either way, is one binary frame::

    [n: u64][offset_0 … offset_{n-1}: u64]
    [channel][header][parent_header][metadata][content][buffer…]

little-endian; ``offset_0`` is where the channel name starts (``8 * (n + 1)``), each next
offset where a part ends and the next begins, the last one the frame's end; so ``n`` is 6
plus the number of buffers. Header, parent header, metadata and content are JSON each;
buffers are raw bytes. Inside cellhub a message stays one JSON object whose ``buffers``
are base64 strings (as :mod:`cellhub.protocol.wsbinary` keeps them), so this module
converts between that and a frame, both ways.

cellhub's per-kernel sequence number (``cellhub_seq``, for ``?resume=``), a top-level key
in JSON frames, has no top level here: it goes into the message's ``metadata``.
"""

from __future__ import annotations

import base64
import itertools
import struct
from typing import Any

import orjson

SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
PARTS = ("header", "parent_header", "metadata", "content")
#: Offsets of a frame without buffers: channel start, then the end of each of its 5 parts.
MIN_OFFSETS = 2 + len(PARTS)
MAX_OFFSETS = MIN_OFFSETS + 1024


class V1FrameError(ValueError):
    """The frame is not in the v1 kernel WebSocket format."""


def split_frame(frame: bytes) -> tuple[str, list[bytes]]:
    """Return a frame's channel and its parts (the four JSON parts, then the buffers)."""
    if len(frame) < 8:
        raise V1FrameError("v1 frame too short")
    (count,) = struct.unpack_from("<Q", frame)
    if not MIN_OFFSETS <= count <= MAX_OFFSETS or len(frame) < 8 * (count + 1):
        raise V1FrameError("v1 frame has a bad offset count")
    offsets = struct.unpack_from(f"<{count}Q", frame, 8)
    if (
        offsets[0] != 8 * (count + 1)
        or offsets[-1] != len(frame)
        or any(a > b for a, b in itertools.pairwise(offsets))
    ):
        raise V1FrameError("v1 frame has bad offsets")
    chunks = [frame[a:b] for a, b in itertools.pairwise(offsets)]
    try:
        channel = chunks[0].decode()
    except UnicodeDecodeError as exc:
        raise V1FrameError("v1 frame's channel is not UTF-8") from exc
    return channel, chunks[1:]


def to_json_with_buffers(frame: bytes) -> bytes:
    """A client's v1 frame as one JSON message whose ``buffers`` are base64 strings."""
    channel, parts = split_frame(frame)
    msg: dict[str, Any] = {}
    for name, part in zip(PARTS, parts, strict=False):
        try:
            msg[name] = orjson.loads(part)
        except orjson.JSONDecodeError as exc:
            raise V1FrameError(f"v1 frame's {name} is not JSON: {exc}") from exc
    msg["buffers"] = [base64.b64encode(b).decode() for b in parts[len(PARTS) :]]
    msg["channel"] = channel
    try:
        return orjson.dumps(msg)
    except orjson.JSONEncodeError as exc:
        raise V1FrameError(f"v1 frame cannot be re-encoded: {exc}") from exc


def from_json(msg: dict[str, Any], seq: int = 0) -> bytes:
    """The v1 frame of a message whose ``buffers`` are base64 strings; ``seq`` > 0 is put
    into its metadata as ``cellhub_seq``."""
    metadata = msg.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    if seq > 0:
        metadata = {**metadata, "cellhub_seq": seq}
    try:
        parts = [
            str(msg.get("channel", "iopub")).encode(),
            orjson.dumps(msg.get("header", {})),
            orjson.dumps(msg.get("parent_header", {})),
            orjson.dumps(metadata),
            orjson.dumps(msg.get("content", {})),
            *(base64.b64decode(b) for b in msg.get("buffers") or []),
        ]
    except (TypeError, ValueError) as exc:  # binascii.Error and orjson's errors among them
        raise V1FrameError(f"message cannot be framed: {exc}") from exc
    offsets = [8 * (len(parts) + 2)]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets) + b"".join(parts)
