"""Jupyter protocol over the WebSocket: execution as ipykernel does it, and bad input survived."""

from __future__ import annotations

import json
import struct

import pytest
import websockets

from tests.conftest import RunningHub
from tests.kernel_client import Hub, KernelClient, request_message

pytestmark = pytest.mark.both_databases


async def test_execute_follows_ipykernel(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    first = await kernel.execute("x = 41\nprint('hello')\nx + 1")
    assert first.msg_types == ["status", "execute_input", "stream", "execute_result", "status"]
    assert first.stream_text() == "hello\n"
    result = first.first("execute_result")["content"]
    assert result["data"]["text/plain"] == "42" and result["execution_count"] == 1
    assert first.reply is not None and first.reply["channel"] == "shell"
    assert first.reply["header"]["msg_type"] == "execute_reply"
    assert (
        first.reply["content"]["status"] == "ok" and first.reply["content"]["execution_count"] == 1
    )
    assert all(
        m["parent_header"]["msg_id"] == first.reply["parent_header"]["msg_id"] for m in first.iopub
    )

    second = await kernel.execute("x")
    assert second.reply is not None and second.reply["content"]["execution_count"] == 2
    assert second.first("execute_input")["content"]["execution_count"] == 2
    await kernel.close()


async def test_error_and_traceback(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    failed = await kernel.execute("1/0")
    error = failed.first("error")["content"]
    assert error["ename"] == "ZeroDivisionError" and error["traceback"]
    assert failed.reply is not None and failed.reply["content"]["status"] == "error"
    assert failed.msg_types[-1] == "status"
    await kernel.close()


async def test_matplotlib_figure_is_png(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    plotted = await kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);")
    display = plotted.first("display_data")["content"]
    assert display["data"]["image/png"]
    await kernel.close()


async def test_introspection_requests(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    await kernel.execute("import os\nsome_variable = 1")
    info = await kernel.request("kernel_info_request", {})
    assert info.reply is not None
    assert info.reply["content"]["protocol_version"].startswith("5.")
    assert info.reply["content"]["language_info"]["name"] == "python"
    complete = await kernel.request("complete_request", {"code": "some_va", "cursor_pos": 7})
    assert complete.reply is not None and "some_variable" in complete.reply["content"]["matches"]
    # After a module name: what ipykernel answers. In the root sandbox this needs jedi's
    # and parso's caches in a place the session may write (introspection.use_private_caches).
    expected = {
        "os.pa": (["pardir", "path", "pathconf", "pathconf_names", "pathsep"], 3),
        "os.path.jo": (["join"], 8),
    }
    for code, (matches, start) in expected.items():
        complete = await kernel.request("complete_request", {"code": code, "cursor_pos": len(code)})
        assert complete.reply is not None
        content = complete.reply["content"]
        assert (content["matches"], content["cursor_start"]) == (matches, start), code
        assert content["metadata"]["_jupyter_types_experimental"][0]["type"]
    inspect = await kernel.request(
        "inspect_request", {"code": "os.path.join", "cursor_pos": 12, "detail_level": 0}
    )
    assert inspect.reply is not None and inspect.reply["content"]["found"] is True
    assert "text/plain" in inspect.reply["content"]["data"]
    done = await kernel.request("is_complete_request", {"code": "for i in range(3):"})
    assert done.reply is not None and done.reply["content"]["status"] == "incomplete"
    await kernel.close()


async def test_stdin_input_request(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    msg = request_message(
        "execute_request",
        {"code": "name = input('who? ')\nprint('hi', name)", "silent": False, "allow_stdin": True},
    )
    await kernel.send(msg)
    while True:
        incoming = await kernel.recv()
        if incoming["header"]["msg_type"] == "input_request":
            break
    assert incoming["channel"] == "stdin" and incoming["content"]["prompt"] == "who? "
    reply = request_message("input_reply", {"value": "Ada"}, channel="stdin")
    reply["parent_header"] = incoming["header"]
    await kernel.send(reply)
    text = ""
    while "hi Ada" not in text:
        incoming = await kernel.recv()
        if incoming["header"]["msg_type"] == "stream":
            text += incoming["content"]["text"]
    await kernel.close()


@pytest.mark.parametrize(
    ("raw", "expected_type"),
    [
        ("{not json", "error"),
        ("[1, 2, 3]", "error"),
        (json.dumps({"content": {}}), "error"),
        (json.dumps({"header": {"msg_type": "execute_request"}, "content": {}}), "error"),
    ],
)
async def test_malformed_messages_get_an_error_and_the_kernel_lives(
    hub: Hub, raw: str, expected_type: str
) -> None:
    _, kernel = await hub.kernel()
    await kernel.ws.send(raw)
    answer = await kernel.recv()
    assert answer["header"]["msg_type"] == expected_type
    assert answer["content"]["ename"] == "InvalidMessage"
    still = await kernel.execute("6 * 7")
    assert still.first("execute_result")["content"]["data"]["text/plain"] == "42"
    await kernel.close()


async def test_unknown_msg_type_is_handled_as_ipykernel_does(hub: Hub) -> None:
    """busy, idle and no reply (ipykernel logs "Unknown message type" and goes on)."""
    _, kernel = await hub.kernel()
    msg_id = await kernel.send(request_message("frobnicate_request", {}))
    answers = [await kernel.recv(), await kernel.recv()]
    assert [m["content"]["execution_state"] for m in answers] == ["busy", "idle"]
    assert all(m["parent_header"]["msg_id"] == msg_id for m in answers)
    still = await kernel.execute("1 + 1")
    assert not [m for m in kernel.other if m["parent_header"].get("msg_id") == msg_id]
    assert still.reply is not None and still.reply["content"]["status"] == "ok"
    await kernel.close()


async def test_websocket_auth_and_unknown_kernel(cellhub_server: RunningHub, hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    ws_url = cellhub_server.url.replace("http", "ws", 1)
    with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
        await websockets.connect(f"{ws_url}api/kernels/{kernel_id}/channels?token=wrong")
    assert denied.value.response.status_code == 403
    with pytest.raises(websockets.exceptions.InvalidStatus) as missing:
        await websockets.connect(
            f"{ws_url}api/kernels/not-a-kernel/channels?token={cellhub_server.token}"
        )
    assert missing.value.response.status_code == 404


async def test_oversized_frame_is_refused(cellhub_server: RunningHub, hub: Hub) -> None:
    kernel_id, kernel = await hub.kernel()
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        await kernel.ws.send("x" * (17 * 2**20))
        await kernel.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    again = await KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    assert (await again.execute("2 + 2")).first("execute_result")["content"]["data"][
        "text/plain"
    ] == "4"
    await again.close()


async def test_binary_frames(hub: Hub) -> None:
    """Jupyter's binary framing is accepted; a malformed binary frame gets an error, no harm."""
    _, kernel = await hub.kernel()
    await kernel.ws.send(b"\x00\x00\x00\x07garbage")
    answer = await kernel.recv()
    assert answer["content"]["ename"] == "InvalidMessage"
    msg = request_message("execute_request", {"code": "40 + 2", "silent": False})
    body = json.dumps(msg).encode()
    await kernel.ws.send(struct.pack(">III", 2, 12, 12 + len(body)) + body + b"\x01\x02")
    while True:
        incoming = await kernel.recv()
        if incoming["header"]["msg_type"] == "execute_result":
            assert incoming["content"]["data"]["text/plain"] == "42"
            break
    await kernel.close()
