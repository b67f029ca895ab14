"""Fuzz a kernel's WebSocket with hypothesis: Jupyter envelopes with hostile contents.

Each example is one frame on one connection to a real kernel: a JSON message whose header
is well formed but whose msg_type, channel, parent header, metadata, content fields and
buffers are anything (huge, negative, unicode, lone surrogates, nested past orjson's
limit, the wrong type), the same in Jupyter's binary framing with junk buffers, or raw
bytes. After each frame a ``kernel_info_request`` must be answered on the same socket:
the socket stays open and the kernel keeps serving. At the end the kernel still
computes ``1 + 1``; the hub and the worker printed no traceback, and what the session
reported reached the log only marked with its kernel and rate-limited (see
cellhub.worker.session_log). ``shutdown_request`` is left out: it would end the kernel.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from cellhub.protocol import jupyter
from tests.conftest import RunningHub
from tests.hub.fuzzing import bounded
from tests.kernel_client import request_message

EXAMPLES = 80
CONTENT_FIELDS = [
    "code", "silent", "store_history", "user_expressions", "allow_stdin", "stop_on_error",
    "cursor_pos", "detail_level", "comm_id", "target_name", "data", "value", "restart",
    "hist_access_type", "n", "pattern", "unique", "output", "raw", "session", "start", "stop",
]  # fmt: skip


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(min_size=5_000, max_size=20_000),
)
hostile = st.one_of(
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    ),
    st.integers(min_value=200, max_value=400).map(nested),
)
msg_types = st.one_of(
    st.sampled_from(sorted(jupyter.CLIENT_MSG_TYPES - {"shutdown_request"})),
    st.text(min_size=1, max_size=30).filter(lambda t: "shutdown" not in t),
)
headers = st.fixed_dictionaries(
    {"msg_id": st.uuids().map(str), "msg_type": msg_types},
    optional={"session": hostile, "username": hostile, "date": hostile, "version": hostile},
)
messages = st.fixed_dictionaries(
    {
        "header": headers,
        "channel": st.sampled_from(["shell", "control", "stdin", "iopub", "", "nope"]),
        "content": st.dictionaries(st.sampled_from(CONTENT_FIELDS), hostile, max_size=5),
    },
    optional={
        "parent_header": hostile,
        "metadata": hostile,
        "buffers": st.lists(hostile, max_size=3),
    },
)


def binary_frame(msg: dict[str, Any], buffers: list[bytes]) -> bytes:
    """Jupyter's binary framing (see cellhub.protocol.wsbinary)."""
    parts = [json.dumps(msg).encode(), *buffers]
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f">{len(parts) + 1}I", len(parts), *offsets) + b"".join(parts)


frames = st.one_of(
    messages.map(json.dumps),
    st.builds(binary_frame, messages, st.lists(st.binary(max_size=64), max_size=3)),
    st.binary(max_size=64),
)


@pytest.fixture
def channels(cellhub_server: RunningHub) -> Iterator[tuple[str, ClientConnection]]:
    auth = {"Authorization": f"token {cellhub_server.token}"}
    with httpx.Client(base_url=cellhub_server.url, headers=auth) as http:
        kernel_id = http.post("/api/kernels").json()["id"]
        ws_url = cellhub_server.url.replace("http", "ws", 1)
        url = f"{ws_url}api/kernels/{kernel_id}/channels?token={cellhub_server.token}"
        with connect(url, max_size=None) as ws:
            yield kernel_id, ws
        http.delete(f"/api/kernels/{kernel_id}")


def answer_to(ws: ClientConnection, msg: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """Send ``msg``; return the reply to it, skipping everything else."""
    ws.send(json.dumps(msg))
    while True:
        incoming = ws.recv(timeout)
        if isinstance(incoming, bytes):
            continue
        reply = json.loads(incoming)
        parent = reply.get("parent_header") or {}
        if parent.get("msg_id") == msg["header"]["msg_id"] and reply["channel"] != "iopub":
            return reply  # type: ignore[no-any-return]


def test_hostile_messages_leave_socket_and_kernel_working(
    cellhub_server: RunningHub, channels: tuple[str, ClientConnection]
) -> None:
    since = len(cellhub_server.output)
    kernel_id, ws = channels

    @bounded(EXAMPLES)
    @given(frame=frames)
    def survive(frame: str | bytes) -> None:
        ws.send(frame)
        probe = request_message("kernel_info_request", {})
        assert answer_to(ws, probe)["content"]["status"] == "ok"

    survive()
    execute = request_message("execute_request", {"code": "1 + 1", "silent": False})
    assert answer_to(ws, execute)["content"]["status"] == "ok"
    output = "".join(cellhub_server.output[since:])
    unmarked = [
        line for line in output.splitlines() if "Traceback" in line and kernel_id not in line
    ]
    assert not unmarked and len(output) < 100_000, output[-3000:]
