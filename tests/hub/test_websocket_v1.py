"""The v1 kernel WebSocket subprotocol of Jupyter Server 2: negotiated when offered, every
message a v1 binary frame both ways (buffers as raw parts), resume numbers in metadata."""

from __future__ import annotations

import base64

import pytest
import websockets

from tests.conftest import RunningHub
from tests.kernel_client import (
    V1_SUBPROTOCOL,
    Hub,
    KernelClient,
    V1KernelClient,
    request_message,
    v1_encode,
)

pytestmark = pytest.mark.both_databases

ECHO_TARGET = """
import comm
def _echo(c, msg):
    c.on_msg(lambda m: c.send({"echo": m["content"]["data"]}, buffers=m["buffers"]))
comm.get_comm_manager().register_target("echo", _echo)
"""


async def test_v1_is_negotiated_and_executes(cellhub_server: RunningHub, hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    kernel = await V1KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    assert kernel.ws.subprotocol == V1_SUBPROTOCOL
    ran = await kernel.execute("6 * 7")
    assert ran.first("execute_result")["content"]["data"]["text/plain"] == "42"
    assert ran.reply is not None and ran.reply["channel"] == "shell"
    assert ran.reply["content"]["status"] == "ok"
    assert all(isinstance(m["metadata"]["cellhub_seq"], int) for m in ran.iopub)
    await kernel.close()


async def test_binary_buffers_round_trip_as_v1_parts(cellhub_server: RunningHub, hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    kernel = await V1KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    await kernel.execute(ECHO_TARGET)
    opened = request_message("comm_open", {"comm_id": "c1", "target_name": "echo", "data": {}})
    await kernel.send(opened)
    payload = [bytes(range(256)), b"\x00" * 3]
    msg = request_message("comm_msg", {"comm_id": "c1", "data": {"n": 1}})
    msg["buffers"] = payload
    await kernel.send(msg)
    while True:
        answer = await kernel.recv()
        if answer["header"]["msg_type"] == "comm_msg":
            break
    assert answer["channel"] == "iopub"
    assert answer["content"]["data"] == {"echo": {"n": 1}}
    assert answer["buffers"] == payload
    await kernel.close()


async def test_malformed_v1_frame_is_answered_in_v1(cellhub_server: RunningHub, hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    kernel = await V1KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    await kernel.ws.send(b"\x07\x00\x00\x00\x00\x00\x00\x00garbage")
    answer = await kernel.recv()
    assert answer["content"]["ename"] == "InvalidMessage"
    ran = await kernel.execute("1 + 1")
    assert ran.first("execute_result")["content"]["data"]["text/plain"] == "2"
    await kernel.close()


async def test_resume_numbers_travel_in_metadata(cellhub_server: RunningHub, hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    kernel = await V1KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    first = await kernel.execute("print('one')")
    last_seen = max(m["metadata"]["cellhub_seq"] for m in first.iopub)
    await kernel.close()
    plain = await KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    await plain.execute("print('two')")
    await plain.close()
    url = cellhub_server.url.replace("http", "ws", 1)
    again = V1KernelClient(
        await websockets.connect(
            f"{url}api/kernels/{kernel_id}/channels?token={cellhub_server.token}"
            f"&resume={last_seen}",
            subprotocols=[V1_SUBPROTOCOL],  # type: ignore[list-item]
        )
    )
    missed = [await again.recv()]
    while missed[-1]["content"].get("execution_state") != "idle":
        missed.append(await again.recv())
    numbers = [m["metadata"]["cellhub_seq"] for m in missed]
    assert numbers == sorted(numbers) and numbers[0] > last_seen
    texts = [m["content"].get("text") for m in missed if m["header"]["msg_type"] == "stream"]
    assert texts == ["two\n"]
    await again.close()


@pytest.mark.parametrize("offered", [[], ["something.else"]])
async def test_without_v1_offered_frames_stay_json(
    cellhub_server: RunningHub, hub: Hub, offered: list[str]
) -> None:
    kernel_id = await hub.start_kernel()
    kernel = await KernelClient.connect(
        cellhub_server.url, cellhub_server.token, kernel_id, subprotocols=offered or None
    )
    assert kernel.ws.subprotocol is None
    ran = await kernel.execute("'json'")
    assert ran.first("execute_result")["content"]["data"]["text/plain"] == "'json'"
    await kernel.close()


def test_v1_encoder_matches_jupyter_server() -> None:
    """The tests' own v1 encoder agrees with Jupyter Server's, where it is installed."""
    base = pytest.importorskip("jupyter_server.services.kernels.connection.base")
    msg = request_message("execute_request", {"code": "1"})
    msg["buffers"] = [b"\x01\x02"]
    channel, parts = base.deserialize_msg_from_ws_v1(v1_encode(msg))
    assert channel == "shell" and parts[-1] == b"\x01\x02"
    assert base64.b64encode(parts[-1]) == b"AQI="


async def test_websockets_offers_v1(cellhub_server: RunningHub, hub: Hub) -> None:
    """The raw handshake: the accepted subprotocol header is v1."""
    kernel_id = await hub.start_kernel()
    url = cellhub_server.url.replace("http", "ws", 1)
    async with websockets.connect(
        f"{url}api/kernels/{kernel_id}/channels?token={cellhub_server.token}",
        subprotocols=[V1_SUBPROTOCOL, "other"],  # type: ignore[list-item]
    ) as ws:
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Protocol"] == V1_SUBPROTOCOL
