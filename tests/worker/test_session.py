"""The session process: Jupyter messages in, Jupyter messages out, over real sockets.

A driver process builds the shell once and forks a session per test, as the
template does; the tests speak frames to it and check what comes back.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from cellhub.protocol import framing
from tests.worker.session_client import Reply, SessionClient, SessionServer

TEN_THOUSAND = "".join(f"{i}\n" for i in range(10**4))


def test_execute_sends_busy_input_result_reply_idle(kernel: SessionClient) -> None:
    msg_id = kernel.send("execute_request", {"code": "1+1", "silent": False})
    run = kernel.collect(msg_id)
    assert run.msg_types == ["status", "execute_input", "execute_result", "execute_reply", "status"]
    assert [f[4] for f in run.frames] == ["busy", None, None, None, "idle"]
    assert [m["channel"] for m in run.messages] == ["iopub", "iopub", "iopub", "shell", "iopub"]
    for message in run.messages:
        assert message["parent_header"]["msg_id"] == msg_id
        header = message["header"]
        assert header["version"] == "5.3" and header["username"] == "tester"
        assert header["msg_id"].startswith(header["session"] + "_")
        assert dt.datetime.fromisoformat(header["date"]).tzinfo is not None
        assert message["buffers"] == []
    assert len({m["header"]["session"] for m in run.messages}) == 1
    assert len({m["header"]["msg_id"] for m in run.messages}) == len(run.messages)
    assert run.of_type("execute_input")[0]["content"] == {"code": "1+1", "execution_count": 1}
    result = run.of_type("execute_result")[0]["content"]
    assert result == {"data": {"text/plain": "2"}, "metadata": {}, "execution_count": 1}
    reply = run.reply
    assert reply["content"]["status"] == "ok" and reply["content"]["execution_count"] == 1
    assert reply["metadata"]["status"] == "ok"
    counts = [kernel.execute("x = 1").reply["content"]["execution_count"] for _ in range(3)]
    assert counts == [2, 3, 4]


def test_top_level_await_runs_and_plain_cells_need_no_event_loop(kernel: SessionClient) -> None:
    run = kernel.execute("import asyncio\nawait asyncio.sleep(0)\n'awaited'")
    assert run.of_type("execute_result")[0]["content"]["data"] == {"text/plain": "'awaited'"}
    run = kernel.execute("async def f():\n    return 6\nawait f() * 7")
    assert run.of_type("execute_result")[0]["content"]["data"] == {"text/plain": "42"}
    run = kernel.execute("import asyncio\nasyncio.run(asyncio.sleep(0, 'no loop running'))")
    assert run.of_type("execute_result")[0]["content"]["data"] == {
        "text/plain": "'no loop running'"
    }


def test_silent_user_expressions_and_no_result_after_semicolon(kernel: SessionClient) -> None:
    run = kernel.execute("y = 6", silent=True, user_expressions={"twice": "y * 2"})
    assert run.msg_types == ["status", "execute_reply", "status"]
    expr = run.reply["content"]["user_expressions"]["twice"]
    assert expr["status"] == "ok" and expr["data"]["text/plain"] == "12"
    assert kernel.execute("y;").msg_types == ["status", "execute_input", "execute_reply", "status"]
    assert kernel.execute("y # ;").of_type("execute_result")[0]["content"]["data"] == {
        "text/plain": "6"
    }
    assert kernel.execute("y").reply["content"]["execution_count"] == 3


def test_results_are_not_copied_into_the_history(kernel: SessionClient) -> None:
    for _ in range(3):
        assert kernel.execute("'x' * 100_000").of_type("execute_result")
    run = kernel.execute("hm = get_ipython().history_manager; len(hm.outputs), len(Out)")
    assert run.of_type("execute_result")[0]["content"]["data"]["text/plain"] == "(0, 3)"


def test_error_traceback_and_stop_on_error(kernel: SessionClient) -> None:
    first = kernel.send("execute_request", {"code": "print('before'); 1/0"})
    queued = kernel.send("execute_request", {"code": "print('never')"})
    info = kernel.send("kernel_info_request", {})
    run = kernel.collect(first)
    assert run.msg_types == [
        "status",
        "execute_input",
        "stream",
        "error",
        "execute_reply",
        "status",
    ]
    error = run.of_type("error")[0]["content"]
    assert error["ename"] == "ZeroDivisionError" and error["evalue"] == "division by zero"
    assert any("\x1b[" in line for line in error["traceback"])
    reply = run.reply["content"]
    assert reply["status"] == "error" and reply["traceback"] == error["traceback"]
    assert reply["engine_info"] == {
        "engine_uuid": run.reply["metadata"]["engine"],
        "engine_id": -1,
        "method": "execute",
    }
    aborted = kernel.collect(queued)
    assert aborted.msg_types == ["status", "execute_reply", "status"]
    assert aborted.reply["content"]["status"] == "aborted"
    metadata = aborted.reply["metadata"]
    assert metadata["status"] == "aborted" and metadata["dependencies_met"] is True
    assert dt.datetime.fromisoformat(metadata["started"]).tzinfo is not None
    assert kernel.collect(info).reply["content"]["status"] == "ok"
    assert kernel.execute("print('after')").stream_text() == "after\n"
    syntax = kernel.execute("1 +").of_type("error")[0]["content"]
    assert syntax["ename"] == "SyntaxError"


def test_ten_thousand_lines_arrive_in_order_every_time(kernel: SessionClient) -> None:
    for _ in range(20):
        run = kernel.execute("for i in range(10**4): print(i)")
        assert run.stream_text() == TEN_THOUSAND
        assert run.msg_types[-2:] == ["execute_reply", "status"]
        assert len(run.of_type("stream")) < 20


def test_a_million_lines_and_twenty_megabytes(kernel: SessionClient) -> None:
    start = time.perf_counter()
    run = kernel.execute("for i in range(10**6): print(i)", timeout=60)
    elapsed = time.perf_counter() - start
    lines = run.stream_text().splitlines()
    assert lines == [str(i) for i in range(10**6)]
    assert len(run.of_type("stream")) < 1000
    assert elapsed < 10
    run = kernel.execute("print('x' * (20 * 2**20))", timeout=60)
    assert run.stream_text() == "x" * (20 * 2**20) + "\n"
    assert max(len(m["content"]["text"]) for m in run.of_type("stream")) <= 65536


def test_output_over_the_cap_is_truncated_with_a_notice(server: SessionServer) -> None:
    with server.session(output_cap=100_000) as kernel:
        run = kernel.execute("for i in range(10**5): print(i)\nprint('done')")
        assert run.reply["content"]["status"] == "ok"
        out = run.stream_text()
        assert len(out.encode()) == 100_000 and TEN_THOUSAND[:50_000] in out
        notices = [m["content"]["text"] for m in run.of_type("stream")]
        assert "truncated" in notices[-1] and "output_cap" in notices[-1]
        assert run.of_type("stream")[-1]["content"]["name"] == "stderr"
        assert "done" not in out
        assert kernel.execute("print('é' * 10)").stream_text() == "é" * 10 + "\n"


def test_streams_keep_order_and_fd_output_is_captured(kernel: SessionClient) -> None:
    code = (
        "import os, sys, subprocess\n"
        "print('a'); print('b', file=sys.stderr); print('c')\n"
        "os.write(1, b'fd1\\n'); os.write(2, b'fd2\\n')\n"
        "subprocess.run(['echo', 'child'])\n"
        "!echo bang"
    )
    run = kernel.execute(code)
    pieces = [(m["content"]["name"], m["content"]["text"]) for m in run.of_type("stream")]
    text = "".join(t for _, t in pieces)
    assert text.index("a\n") < text.index("b\n") < text.index("c\n")
    assert run.stream_text("stderr").startswith("b\n") and "fd2\n" in run.stream_text("stderr")
    for expected in ("fd1\n", "child\n", "bang"):  # `!cmd` runs in a pty: "\r\n"
        assert expected in run.stream_text()


def test_output_is_live_and_background_threads_are_flushed(kernel: SessionClient) -> None:
    msg_id = kernel.send("execute_request", {"code": "import time\nprint('a')\ntime.sleep(1)"})
    start = time.monotonic()
    while True:
        frame, message = kernel.recv()
        if frame[2] == "stream":
            break
    assert time.monotonic() - start < 0.5
    assert message["content"]["text"] == "a\n"
    kernel.collect(msg_id)
    code = "import threading, time\nthreading.Timer(0.2, lambda: print('later')).start()"
    run = kernel.execute(code)
    assert run.stream_text() == ""
    frame, message = kernel.recv()
    assert message["content"] == {"name": "stdout", "text": "later\n"}
    assert message["parent_header"]["msg_id"] == run.messages[0]["parent_header"]["msg_id"]


def run_and_interrupt(kernel: SessionClient, code: str, **content: Any) -> Reply:
    """Run ``code``, which prints before it blocks, and send SIGINT once output arrived."""
    msg_id = kernel.send("execute_request", {"code": code, **content})
    frame, message = kernel.recv()
    first = Reply([frame], [message])
    while frame[2] not in ("stream", "input_request"):
        frame, message = kernel.recv()
        first.frames.append(frame)
        first.messages.append(message)
    os.kill(kernel.pid, signal.SIGINT)
    rest = kernel.collect(msg_id)
    return Reply(first.frames + rest.frames, first.messages + rest.messages)


def test_sigint_interrupts_a_loop_and_variables_survive(kernel: SessionClient) -> None:
    kernel.execute("kept = 42")
    os.kill(kernel.pid, signal.SIGINT)  # idle: ignored
    run = run_and_interrupt(kernel, "print('start')\nwhile True: pass")
    assert run.reply["content"]["status"] == "error"
    assert run.reply["content"]["ename"] == "KeyboardInterrupt"
    error = run.of_type("error")[0]["content"]
    assert error["ename"] == "KeyboardInterrupt"
    assert "cellhub" not in "".join(error["traceback"]), "the SIGINT handler's frame shows"
    assert "cellhub" not in "".join(run.reply["content"]["traceback"])
    assert kernel.execute("kept").of_type("execute_result")[0]["content"]["data"] == {
        "text/plain": "42"
    }


def test_sigint_while_printing_never_corrupts_a_frame(kernel: SessionClient) -> None:
    for _ in range(5):
        run = run_and_interrupt(kernel, "i = 0\nwhile True:\n    print(i); i += 1")
        assert run.reply["content"]["ename"] == "KeyboardInterrupt"
        lines = run.stream_text().splitlines()
        assert lines == [str(i) for i in range(len(lines))]
        assert kernel.execute("print('ok')").stream_text() == "ok\n"


def test_sigint_interrupts_input(kernel: SessionClient) -> None:
    run = run_and_interrupt(kernel, "x = input()", allow_stdin=True)
    assert run.reply["content"]["ename"] == "KeyboardInterrupt"
    assert run.reply["content"]["evalue"] == "Interrupted by user"
    assert kernel.execute("print('alive')").stream_text() == "alive\n"


def test_input_with_and_without_stdin(kernel: SessionClient) -> None:
    msg_id = kernel.send(
        "execute_request",
        {
            "code": "name = input('who? ')\nimport getpass\n"
            "pw = getpass.getpass()\nprint(name, pw)",
            "allow_stdin": True,
        },
    )
    frame, message = kernel.recv()
    while frame[2] != "input_request":
        frame, message = kernel.recv()
    assert frame[1] == "stdin"
    assert message["content"] == {"prompt": "who? ", "password": False}
    info = kernel.send("kernel_info_request", {})  # queued while the cell waits
    kernel.send("input_reply", {"value": "ada"}, channel="stdin")
    frame, message = kernel.recv()
    while frame[2] != "input_request":
        frame, message = kernel.recv()
    assert message["content"]["password"] is True
    kernel.send("input_reply", {"value": "secret"}, channel="stdin")
    run = kernel.collect(msg_id)
    assert run.stream_text() == "ada secret\n"
    assert kernel.collect(info).reply["content"]["implementation"] == "cellhub"
    run = kernel.execute("input()", allow_stdin=False)
    assert run.reply["content"]["ename"] == "StdinNotImplementedError"


def test_kernel_info_on_shell_and_control(kernel: SessionClient) -> None:
    for channel in ("shell", "control"):
        run = kernel.request("kernel_info_request", {}, channel)
        reply = run.reply
        assert reply["channel"] == channel
        content = reply["content"]
        assert content["protocol_version"] == "5.3" and content["status"] == "ok"
        assert content["language_info"]["codemirror_mode"] == {"name": "ipython", "version": 3}
        assert content["language_info"]["pygments_lexer"] == "ipython3"
        assert content["banner"]
        assert [link["text"] for link in content["help_links"]] == [
            f"{name} Reference"
            for name in ("Python", "IPython", "NumPy", "SciPy", "Matplotlib", "SymPy", "pandas")
        ]


def test_complete_inspect_is_complete(kernel: SessionClient) -> None:
    kernel.execute("import numpy as np\nsome_variable = 1")
    content = kernel.request("complete_request", {"code": "np.aran", "cursor_pos": 7}).reply[
        "content"
    ]
    assert content["status"] == "ok" and "arange" in content["matches"]
    assert (content["cursor_start"], content["cursor_end"]) == (3, 7)
    types = content["metadata"]["_jupyter_types_experimental"]
    assert {"start", "end", "text", "type", "signature"} <= set(types[0])
    content = kernel.request("complete_request", {"code": "some_v", "cursor_pos": 6}).reply[
        "content"
    ]
    assert "some_variable" in content["matches"]
    content = kernel.request("inspect_request", {"code": "np.arange(", "cursor_pos": 10}).reply[
        "content"
    ]
    assert content["found"] is True and "arange" in content["data"]["text/plain"]
    content = kernel.request("inspect_request", {"code": "nothing_here", "cursor_pos": 3}).reply[
        "content"
    ]
    assert content == {"status": "ok", "data": {}, "metadata": {}, "found": False}
    checks = {"x = 1": "complete", "for i in range(3):": "incomplete", "1 +)": "invalid"}
    for code, status in checks.items():
        content = kernel.request("is_complete_request", {"code": code}).reply["content"]
        assert content["status"] == status
    content = kernel.request("is_complete_request", {"code": "for i in range(3):"}).reply
    assert content["content"]["indent"] == "    "
    assert kernel.request("comm_info_request", {}).reply["content"] == {"status": "ok", "comms": {}}


def test_history_answers_as_ipykernel_does(kernel: SessionClient) -> None:
    for code in ("a = 1", "b = 2", "a = 1", "print(In[1])"):
        kernel.execute(code)
    first_cell = kernel.execute("In[1], _i2").of_type("execute_result")[0]["content"]["data"]
    assert first_cell["text/plain"] == "('a = 1', 'b = 2')"

    def history(**content: Any) -> Any:
        reply = kernel.request("history_request", {"output": False, "raw": True, **content})
        return reply.reply["content"]

    tail = history(hist_access_type="tail", n=2)
    assert tail["status"] == "ok"
    session = tail["history"][0][0]
    assert session >= 1
    assert tail["history"] == [[session, 4, "print(In[1])"], [session, 5, "In[1], _i2"]]
    assert history(hist_access_type="range", start=1, stop=3)["history"] == [
        [0, 1, "a = 1"],
        [0, 2, "b = 2"],
    ]
    found = history(hist_access_type="search", pattern="a = *")["history"]
    assert found == [[session, 1, "a = 1"], [session, 3, "a = 1"]]
    unique = history(hist_access_type="search", pattern="a = *", unique=True)["history"]
    assert unique == [[session, 3, "a = 1"]]
    assert history(hist_access_type="tail", n=1, output=True)["history"] == [
        [session, 5, ["In[1], _i2", None]]
    ]
    broken = history(hist_access_type="tail", n="three")
    assert broken["status"] == "error" and "'n'" in broken["evalue"]
    assert history(hist_access_type="unknown")["history"] == []


def test_pager_payload(kernel: SessionClient) -> None:
    run = kernel.execute("len?")
    payload = run.reply["content"]["payload"]
    assert payload and payload[0]["source"] == "page"
    assert "Return the number of items" in payload[0]["data"]["text/plain"]


def test_display_update_and_clear(kernel: SessionClient) -> None:
    code = (
        "from IPython.display import display, clear_output, HTML\n"
        "h = display(HTML('<b>one</b>'), display_id='d1')\n"
        "h.update(HTML('<b>two</b>'))\n"
        "clear_output(wait=True)"
    )
    run = kernel.execute(code)
    assert run.msg_types[2:5] == ["display_data", "update_display_data", "clear_output"]
    shown = run.of_type("display_data")[0]["content"]
    assert shown["data"]["text/html"] == "<b>one</b>"
    assert shown["transient"] == {"display_id": "d1"}
    assert run.of_type("update_display_data")[0]["content"]["transient"] == {"display_id": "d1"}
    assert run.of_type("clear_output")[0]["content"] == {"wait": True}


def test_matplotlib_figures_are_png_displays(kernel: SessionClient) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.plot([3, 1])"
    run = kernel.execute(code)
    shown = run.of_type("display_data")
    assert len(shown) == 2
    for message in shown:
        data = message["content"]["data"]
        assert data["image/png"].startswith("iVBOR") and data["text/plain"].startswith("<Figure")
    assert kernel.execute("len(plt.get_fignums())").of_type("execute_result")[0]["content"][
        "data"
    ] == {"text/plain": "0"}


def test_sessions_get_their_own_random_seed(server: SessionServer) -> None:
    draws = []
    for _ in range(2):
        with server.session() as kernel:
            run = kernel.execute("import numpy as np, random\n(np.random.rand(), random.random())")
            draws.append(run.of_type("execute_result")[0]["content"]["data"]["text/plain"])
    assert draws[0] != draws[1]


def test_bad_messages_do_not_kill_the_session(kernel: SessionClient) -> None:
    framing.send_frame(kernel.sock, ["msg", "shell", b"{not json"])
    framing.send_frame(kernel.sock, ["nonsense"])
    framing.send_frame(kernel.sock, ["msg", "stdin", orjson.dumps({"header": {}})])
    unknown = kernel.request("no_such_request", {})
    assert unknown.msg_types == ["status", "status"]
    broken = kernel.request("complete_request", {"code": "x", "cursor_pos": "nope"})
    assert broken.reply["content"]["status"] == "error"
    assert broken.reply["content"]["ename"] == "ValueError"
    assert kernel.execute("print('still here')").stream_text() == "still here\n"
    logged = "\n".join(kernel.diagnostics)
    assert "discarding a malformed frame" in logged and "unknown message type" in logged


def test_session_exits_when_the_worker_closes_the_socket(
    server: SessionServer, tmp_path: Path
) -> None:
    with server.session() as kernel:
        kernel.execute("1")
        pid = kernel.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
