"""The v1 kernel WebSocket framing, against frames built as Jupyter Server builds them."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from cellhub.protocol import wsv1


def jupyter_server_frame(channel: str, parts: list[bytes]) -> bytes:
    """Built the way jupyter_server's serialize_msg_to_ws_v1 does, independently of ours."""
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(len(channel.encode()) + offsets[-1])
    for part in parts:
        offsets.append(len(part) + offsets[-1])
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return head + channel.encode() + b"".join(parts)


def json_parts(**parts: object) -> list[bytes]:
    return [orjson.dumps(parts[name]) for name in wsv1.PARTS]


def test_client_frame_becomes_json_with_base64_buffers() -> None:
    parts = json_parts(header={"msg_id": "a"}, parent_header={}, metadata={}, content={"x": 1})
    frame = jupyter_server_frame("shell", [*parts, b"\x00\x01", b"xyz"])
    msg = orjson.loads(wsv1.to_json_with_buffers(frame))
    assert msg["channel"] == "shell" and msg["header"] == {"msg_id": "a"}
    assert msg["content"] == {"x": 1}
    assert [base64.b64decode(b) for b in msg["buffers"]] == [b"\x00\x01", b"xyz"]


def test_message_becomes_the_frame_jupyter_server_would_send() -> None:
    msg = {
        "header": {"msg_id": "b"},
        "msg_id": "b",
        "parent_header": {},
        "metadata": {"m": 1},
        "content": {"data": {}},
        "buffers": [base64.b64encode(b"\xff\xfe").decode()],
        "channel": "iopub",
    }
    expected = jupyter_server_frame(
        "iopub",
        [
            *json_parts(
                header={"msg_id": "b"}, parent_header={}, metadata={"m": 1}, content={"data": {}}
            ),
            b"\xff\xfe",
        ],
    )
    assert wsv1.from_json(msg) == expected


def test_sequence_number_goes_into_metadata() -> None:
    frame = wsv1.from_json({"header": {}, "metadata": {"a": 1}, "content": {}}, seq=7)
    _, parts = wsv1.split_frame(frame)
    assert orjson.loads(parts[2]) == {"a": 1, "cellhub_seq": 7}


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x01\x00\x00\x00\x00\x00\x00\x00",
        struct.pack("<Q", 6) + b"\x00" * 8,
        struct.pack("<7Q", 6, 56, 61, 60, 62, 63, 64) + b"x" * 8,
        jupyter_server_frame("shell", [b"{", b"{}", b"{}", b"{}"]),
        jupyter_server_frame("shell", [b"{}", b"{}", b"{}", b"{}"]) + b"trailing",
    ],
)
def test_malformed_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(wsv1.V1FrameError):
        wsv1.to_json_with_buffers(frame)


def test_jupyter_servers_own_functions_agree() -> None:
    base = pytest.importorskip("jupyter_server.services.kernels.connection.base")
    msg = {"header": {"msg_id": "c"}, "parent_header": {}, "metadata": {}, "content": {"k": [1]}}
    ours = wsv1.from_json(
        {**msg, "channel": "shell", "buffers": [base64.b64encode(b"\x07").decode()]}
    )
    channel, parts = base.deserialize_msg_from_ws_v1(ours)
    assert channel == "shell" and parts[-1] == b"\x07"
    theirs = base.serialize_msg_to_ws_v1(msg, "shell", orjson.dumps)
    assert orjson.loads(wsv1.to_json_with_buffers(theirs))["content"] == {"k": [1]}
