"""@jupyterlab/services — the client JupyterLab, Thebe and Voilà use — driving cellhub from Node.

tests/clients/node/drive.js starts a kernel with ``KernelManager`` and a session with
``SessionManager`` against a real ``cellhub serve`` and runs each check there (execute, a
stream, a display, complete, inspect, interrupt, a restart with no ``dead`` or
``autorestarting`` status, shutdown, the v1 WebSocket subprotocol), and with
``ContentsManager`` the user's worksheets (new, save, read, checkpoint, rename, copy, list,
delete); each check is one test here, so a failure names the check and carries the script's
error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.node_packages import installed
from tests.conftest import RunningHub

FOLDER = Path(__file__).parent / "node"
CHECKS = [
    "KernelManager.startNew",
    "v1 subprotocol",
    "kernel_info",
    "execute 1+1",
    "stream",
    "display",
    "complete",
    "inspect",
    "interrupt",
    "restart",
    "shutdown",
    "SessionManager.startNew",
    "ContentsManager",
]


@pytest.fixture(scope="module")
def results(cellhub_server: RunningHub) -> dict[str, Any]:
    installed(FOLDER)
    node = shutil.which("node")
    assert node is not None
    run = subprocess.run(
        [node, "drive.js", cellhub_server.url, cellhub_server.token],
        cwd=FOLDER,
        capture_output=True,
        text=True,
        timeout=240,
    )
    last = run.stdout.rstrip().rpartition("\n")[2]
    assert run.returncode == 0 and last.startswith("RESULTS "), run.stdout + run.stderr
    answer: dict[str, Any] = json.loads(last.removeprefix("RESULTS "))
    return answer


def test_every_check_ran(results: dict[str, Any]) -> None:
    assert sorted(results) == sorted(CHECKS)


@pytest.mark.parametrize("check", CHECKS)
def test_check(results: dict[str, Any], check: str) -> None:
    assert results[check]["ok"], results[check]["detail"]
