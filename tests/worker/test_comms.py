"""Jupyter comms in a session: ipywidgets' messages, comm_info, buffers both ways."""

from __future__ import annotations

import base64
from typing import Any

from tests.worker.session_client import SMALL_PRELOAD, Reply, SessionClient

WIDGETS_PRELOAD = [*SMALL_PRELOAD, "ipywidgets"]
PRELOAD = WIDGETS_PRELOAD


def model_id(run: Reply, model_name: str) -> str:
    """The comm id of the widget model ``model_name`` opened during ``run``."""
    return next(
        str(m["content"]["comm_id"])
        for m in run.of_type("comm_open")
        if m["content"]["data"]["state"]["_model_name"] == model_name
    )


def update(kernel: SessionClient, comm_id: str, **state: Any) -> str:
    """Send a state update as a browser's widget manager does; return its msg_id."""
    data = {"method": "update", "state": state, "buffer_paths": []}
    return kernel.send("comm_msg", {"comm_id": comm_id, "data": data})


def test_widget_comm_open_info_update_and_echo(kernel: SessionClient) -> None:
    assert kernel.request("comm_info_request", {}).reply["content"] == {
        "status": "ok",
        "comms": {},
    }
    run = kernel.execute(
        "from ipywidgets import IntSlider\n"
        "s = IntSlider(3)\n"
        "s.observe(lambda change: print('value', change['new']), 'value')\n"
        "s"
    )
    opens = run.of_type("comm_open")
    assert {m["content"]["target_name"] for m in opens} == {"jupyter.widget"}
    assert all(m["channel"] == "iopub" for m in opens)
    assert opens[0]["metadata"]["version"].startswith("2.")
    slider = model_id(run, "IntSliderModel")
    view = run.of_type("execute_result")[0]["content"]["data"]
    assert view["application/vnd.jupyter.widget-view+json"]["model_id"] == slider

    info = kernel.request("comm_info_request", {"target_name": "jupyter.widget"}).reply
    assert info["content"]["comms"][slider] == {"target_name": "jupyter.widget"}
    assert kernel.request("comm_info_request", {"target_name": "x"}).reply["content"]["comms"] == {}

    msg_id = update(kernel, slider, value=7)
    changed = kernel.collect(msg_id)
    assert changed.stream_text() == "value 7\n"
    assert all(m["parent_header"]["msg_id"] == msg_id for m in changed.messages)
    echo = changed.of_type("comm_msg")[0]["content"]
    assert echo["comm_id"] == slider and echo["data"]["method"] == "echo_update"
    assert echo["data"]["state"] == {"value": 7}
    assert kernel.execute("print(s.value)").stream_text() == "7\n"

    kernel.execute("s.close()")
    assert slider not in kernel.request("comm_info_request", {}).reply["content"]["comms"]


def test_frontend_opened_comm_with_buffers_both_ways(kernel: SessionClient) -> None:
    kernel.execute(
        "import comm\n"
        "seen = []\n"
        "def opened(c, msg):\n"
        "    seen.append(('open', msg['content']['data'], [bytes(b) for b in msg['buffers']]))\n"
        "    c.on_msg(lambda m: c.send({'n': len(m['buffers'])},"
        " buffers=[bytes(b)[::-1] for b in m['buffers']]))\n"
        "    c.on_close(lambda m: seen.append(('close', m['content']['data'])))\n"
        "comm.get_comm_manager().register_target('echo', opened)\n"
    )
    opened = kernel.request(
        "comm_open",
        {"comm_id": "c1", "target_name": "echo", "data": {"hello": 1}},
        buffers=[b"\x00\x01\x02"],
    )
    assert opened.msg_types == ["status", "status"]
    assert kernel.request("comm_info_request", {}).reply["content"]["comms"] == {
        "c1": {"target_name": "echo"}
    }

    msg_id = kernel.send("comm_msg", {"comm_id": "c1", "data": {}}, buffers=[b"abc", b"\xff\x00"])
    run = kernel.collect(msg_id)
    frame, reply = next(
        (f, m) for f, m in zip(run.frames, run.messages, strict=True) if f[2] == "comm_msg"
    )
    assert b'"cellhub_binary":true' in frame[3]
    assert reply["cellhub_binary"] is True
    assert reply["content"] == {"data": {"n": 2}, "comm_id": "c1"}
    assert [base64.b64decode(b) for b in reply["buffers"]] == [b"cba", b"\x00\xff"]
    assert reply["parent_header"]["msg_id"] == msg_id

    kernel.request("comm_close", {"comm_id": "c1", "data": {"bye": True}})
    assert kernel.request("comm_info_request", {}).reply["content"]["comms"] == {}
    out = kernel.execute("print(seen)").stream_text()
    assert out == "[('open', {'hello': 1}, [b'\\x00\\x01\\x02']), ('close', {'bye': True})]\n"


def test_unknown_comm_and_target_do_not_break_the_session(kernel: SessionClient) -> None:
    kernel.request("comm_msg", {"comm_id": "nope", "data": {}})
    run = kernel.request("comm_open", {"comm_id": "c2", "target_name": "missing", "data": {}})
    closes = run.of_type("comm_close")
    assert closes and closes[0]["content"]["comm_id"] == "c2"
    assert kernel.execute("1 + 1").of_type("execute_result")[0]["content"]["data"] == {
        "text/plain": "2"
    }


def test_output_widget_captures_by_parent(kernel: SessionClient) -> None:
    run = kernel.execute(
        "from ipywidgets import Output\nout = Output()\ndisplay(out)\n"
        "with out:\n    print('inside')"
    )
    out_id = model_id(run, "OutputModel")
    msg_id = run.messages[0]["parent_header"]["msg_id"]
    states = [
        m["content"]["data"]["state"]
        for m in run.of_type("comm_msg")
        if m["content"]["comm_id"] == out_id
    ]
    assert states == [{"msg_id": msg_id}, {"msg_id": ""}]
    kinds = [m["header"]["msg_type"] for m in run.messages]
    assert kinds.index("stream") < len(kinds) - 1 - kinds[::-1].index("comm_msg")
    assert run.stream_text() == "inside\n"


def test_widget_callback_error_is_shown_and_interrupt_works(kernel: SessionClient) -> None:
    run = kernel.execute(
        "from ipywidgets import IntSlider\nbad = IntSlider()\n"
        "bad.observe(lambda change: 1 / 0, 'value')\nbad"
    )
    slider = model_id(run, "IntSliderModel")
    changed = kernel.collect(update(kernel, slider, value=1))
    assert changed.of_type("error")[0]["content"]["ename"] == "ZeroDivisionError"
    assert kernel.execute("print(bad.value)").stream_text() == "1\n"
