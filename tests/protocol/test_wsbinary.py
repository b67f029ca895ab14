"""Jupyter's binary WebSocket frames (the message and its buffers): what Jupyter Server's
clients send is read, a frame round-trips, a malformed one is refused."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from cellhub.protocol import wsbinary


def jupyter_server_frame(msg: dict[str, object], buffers: list[bytes]) -> bytes:
    """Built the way jupyter_server's serialize_binary_message does, independently of ours."""
    parts = [orjson.dumps(msg), *buffers]
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return struct.pack("!" + "I" * (len(parts) + 1), len(parts), *offsets) + b"".join(parts)


def test_client_frame_becomes_json_with_base64_buffers() -> None:
    frame = jupyter_server_frame({"header": {"msg_id": "a"}}, [b"\x00\x01", b"xyz"])
    msg = orjson.loads(wsbinary.to_json_with_buffers(frame))
    assert msg["header"] == {"msg_id": "a"}
    assert [base64.b64decode(b) for b in msg["buffers"]] == [b"\x00\x01", b"xyz"]


def test_round_trip() -> None:
    msg = {"header": {"msg_id": "b"}, "buffers": [base64.b64encode(b"\xff" * 10).decode()]}
    frame = wsbinary.from_json_with_buffers(dict(msg))
    assert frame == jupyter_server_frame({"header": {"msg_id": "b"}}, [b"\xff" * 10])
    text, buffers = wsbinary.split_frame(frame)
    assert orjson.loads(text) == {"header": {"msg_id": "b"}} and buffers == [b"\xff" * 10]


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00\x00\x00\x00",
        struct.pack(">II", 5, 8),
        struct.pack(">III", 2, 12, 4) + b"{}",
        struct.pack(">II", 1, 8) + b"[1]",
    ],
)
def test_malformed_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(wsbinary.BinaryFrameError):
        wsbinary.to_json_with_buffers(frame)
