"""Messages as Jupyter Server (with ipykernel) sends them: every frame's top-level ``msg_id``
and ``msg_type``, its ``Z`` date, the kernel's session id on what cellhub makes itself,
``interrupt_request`` answered with busy/reply/idle, no ``restarting`` on a restart,
ipykernel's goodbye before ``dead`` on a requested shutdown, and a new kernel's model
``starting`` until it is ready.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.kernel_client import Hub, KernelClient, request_message

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


async def collect(kernel: KernelClient, until: Any, timeout: float = 30) -> list[dict[str, Any]]:
    """Every message until one satisfies ``until`` (which is included)."""
    seen: list[dict[str, Any]] = []
    while not seen or not until(seen[-1]):
        seen.append(await kernel.recv(timeout))
    return seen


def is_status(state: str) -> Any:
    return lambda m: (
        m["header"]["msg_type"] == "status" and (m["content"]["execution_state"] == state)
    )


def summary(messages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(channel, msg_type, execution_state or "") of each message."""
    return [
        (m["channel"], m["header"]["msg_type"], m["content"].get("execution_state", ""))
        for m in messages
    ]


def assert_shaped_as_jupyter_server(msg: dict[str, Any]) -> None:
    assert msg["msg_id"] == msg["header"]["msg_id"], msg
    assert msg["msg_type"] == msg["header"]["msg_type"], msg
    assert DATE.match(msg["header"]["date"]), msg["header"]["date"]


async def test_every_frame_has_top_level_msg_id_and_msg_type(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    ran = await kernel.execute("print('x')\nfrom IPython.display import display\ndisplay(1)\n1")
    invalid = request_message("execute_request", {"code": "1"}, channel="nowhere")
    await kernel.send(invalid)
    refused = await kernel.recv()
    assert refused["content"]["ename"] == "InvalidMessage"
    interrupted = await kernel.request("interrupt_request", {}, channel="control")
    for msg in [*ran.iopub, ran.reply, refused, *interrupted.iopub, interrupted.reply]:
        assert msg is not None
        assert_shaped_as_jupyter_server(msg)
    session = ran.iopub[0]["header"]["session"]
    assert refused["header"]["session"] == session
    await kernel.close()


async def test_interrupt_request_is_busy_reply_idle_in_the_kernels_session(hub: Hub) -> None:
    _, kernel = await hub.kernel()
    session = (await kernel.execute("1")).iopub[0]["header"]["session"]
    interrupted = await kernel.request("interrupt_request", {}, channel="control")
    assert interrupted.msg_types == ["status", "status"]
    assert [m["content"]["execution_state"] for m in interrupted.iopub] == ["busy", "idle"]
    assert interrupted.reply is not None
    assert interrupted.reply["channel"] == "control"
    assert interrupted.reply["header"]["msg_type"] == "interrupt_reply"
    assert interrupted.reply["content"] == {"status": "ok"}
    for msg in [*interrupted.iopub, interrupted.reply]:
        assert msg["header"]["session"] == session
    await kernel.close()


async def test_a_restart_sends_what_jupyter_server_sends_and_no_restarting(hub: Hub) -> None:
    kernel_id, kernel = await hub.kernel()
    old = (await kernel.execute("x = 1")).iopub[0]["header"]["session"]
    restarted = await hub.http.post(f"/api/kernels/{kernel_id}/restart")
    assert restarted.status_code == 200 and restarted.json()["execution_state"] == "idle"
    seen = await collect(kernel, lambda m: is_status("idle")(m) and m["header"]["session"] != old)
    assert summary(seen) == [
        ("iopub", "status", "busy"),
        ("iopub", "shutdown_reply", ""),
        ("iopub", "status", "idle"),
        ("iopub", "status", "starting"),
        ("iopub", "status", "busy"),
        ("iopub", "status", "idle"),
    ]
    assert seen[1]["content"] == {"status": "ok", "restart": True}
    assert [m["header"]["session"] == old for m in seen] == [True] * 3 + [False] * 3
    assert seen[4]["parent_header"]["msg_type"] == "kernel_info_request"
    after = await kernel.execute("'x' in globals()")
    assert after.first("execute_result")["content"]["data"]["text/plain"] == "False"
    assert after.iopub[0]["header"]["session"] == seen[-1]["header"]["session"]
    await kernel.close()


async def test_shutdown_by_request_says_goodbye_then_closes(hub: Hub) -> None:
    """ipykernel's goodbye and no ``dead`` (Jupyter Server sends none for a shutdown someone
    asked for); then the hub closes the socket, and the 404 for the kernel says why."""
    kernel_id, kernel = await hub.kernel()
    await kernel.execute("1")
    assert (await hub.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    seen = await collect(kernel, is_status("idle"))
    assert summary(seen) == [
        ("iopub", "status", "busy"),
        ("iopub", "shutdown_reply", ""),
        ("iopub", "status", "idle"),
    ]
    assert seen[1]["content"] == {"status": "ok", "restart": False}
    closed = await kernel.closed()
    assert (closed.code, closed.reason) == (1000, "shut down by request")
    gone = await hub.http.get(f"/api/kernels/{kernel_id}")
    assert gone.status_code == 404 and gone.json()["reason"] == "shut down by request"


async def test_a_new_kernel_is_starting_until_its_first_request(hub: Hub) -> None:
    started = await hub.http.post("/api/kernels", json={"name": "python3"})
    assert started.json()["execution_state"] == "starting"
    kernel_id = started.json()["id"]
    got = await hub.http.get(f"/api/kernels/{kernel_id}")
    assert got.json()["execution_state"] == "starting"
    kernel = await KernelClient.connect(hub.url, hub.token, kernel_id)
    await kernel.request("kernel_info_request", {})
    for _ in range(100):
        state = (await hub.http.get(f"/api/kernels/{kernel_id}")).json()["execution_state"]
        if state == "idle":
            break
        await asyncio.sleep(0.05)
    assert state == "idle"
    await kernel.close()
