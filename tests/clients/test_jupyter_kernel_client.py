"""jupyter-kernel-client (Datalayer's WebSocket client of Jupyter Server) driving cellhub.

It starts a kernel with ``POST /api/kernels`` and reads the channels the way Jupyter
Server sends them; version 1.0.2 looked up the top-level ``msg_id`` of every frame and
failed on each call while cellhub left it out. This checks that its ``execute`` returns the
nbformat outputs a Jupyter Server would give it: a stream, a result, a display, an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningHub

jupyter_kernel_client = pytest.importorskip("jupyter_kernel_client")


@pytest.fixture(scope="module")
def kernel(cellhub_server: RunningHub) -> Iterator[Any]:
    """Its default WebSocket protocol, Jupyter's JSON frames. (Its ``v1`` subprotocol mode
    times out against Jupyter Server itself, so it says nothing about cellhub;
    test_jupyterlab_services.py checks that subprotocol.)"""
    with jupyter_kernel_client.JupyterKernelClient(
        server_url=cellhub_server.url.rstrip("/"), token=cellhub_server.token
    ) as client:
        yield client


def test_print_and_result(kernel: Any) -> None:
    reply = kernel.execute("print('hello from cellhub')\n6 * 7", timeout=30)
    assert reply["status"] == "ok"
    assert reply["execution_count"] == 1
    assert reply["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello from cellhub\n"},
        {
            "output_type": "execute_result",
            "data": {"text/plain": "42"},
            "metadata": {},
            "execution_count": 1,
        },
    ]


def test_display_and_error(kernel: Any) -> None:
    code = "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))\n1 / 0"
    reply = kernel.execute(code, timeout=30)
    assert reply["status"] == "error"
    display, error = reply["outputs"]
    assert display["output_type"] == "display_data"
    assert display["data"]["text/html"] == "<b>x</b>"
    assert (error["output_type"], error["ename"]) == ("error", "ZeroDivisionError")


def test_state_survives_between_calls(kernel: Any) -> None:
    kernel.execute("kept = [1, 2, 3]", timeout=30)
    reply = kernel.execute("print(sum(kept))", timeout=30)
    assert reply["outputs"][0]["text"] == "6\n"
