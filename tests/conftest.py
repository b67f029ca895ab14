"""Fixtures that boot a real ``cellhub serve`` on an ephemeral port and talk to it as clients do."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from cellhub.sandbox.linux import deployment_cgroup
from tests.kernel_client import Hub

URL_LINE = re.compile(r"serving at (http://\S+?)/\?token=(\S+)")
#: Tests start many kernels from one address; the per-client limits have tests of their own.
UNLIMITED_CLIENTS = {"CELLHUB_CLIENT_KERNEL_STARTS": "0", "CELLHUB_CLIENT_MAX_KERNELS": "0"}
#: A Sage template costs seconds of CPU and hundreds of MiB at every start: the cellhubs of
#: tests offer python3 kernels alone, unless a test asks for more (tests/sage).
PYTHON3_ONLY = {"CELLHUB_KERNELS": "python3"}


@dataclass
class RunningHub:
    """A ``cellhub serve`` process and what it printed."""

    process: subprocess.Popen[str] | subprocess.Popen[bytes]
    url: str
    token: str
    data_dir: Path
    output: list[str] = field(default_factory=list)

    def descendants(self) -> list[psutil.Process]:
        try:
            process = psutil.Process(self.process.pid)
            children: list[psutil.Process] = process.children(recursive=True)
            return children
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, as an admin stops a service (it then ends what it started); SIGKILL if it
    has not exited within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch(
    argv: list[str],
    ready: re.Pattern[str],
    env: dict[str, str],
    timeout: float = 90,
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
    module: str = "cellhub",
) -> tuple[subprocess.Popen[str], re.Match[str], list[str]]:
    """Start ``python -m cellhub ARGV`` (or another ``module``: a test's own server); return
    once a line of its output matches ``ready``.

    ``prefix`` runs it through another command that then executes it in place (``nsenter``:
    on another host of the cluster test), so the process is still the service's own."""
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", module, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **PYTHON3_ONLY, **env},
        cwd=cwd,
    )
    output: list[str] = []
    found: list[re.Match[str]] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                output.append(line)
                match = ready.search(line)
                if match and not found:
                    found.append(match)
                    seen.set()
        seen.set()

    threading.Thread(target=read, daemon=True).start()
    if not seen.wait(timeout) or not found:
        process.kill()
        raise RuntimeError(f"{module} {argv[0]} did not start:\n" + "".join(output))
    return process, found[0], output


def start_cellhub(
    data_dir: Path,
    env: dict[str, str] | None = None,
    argv: list[str] | None = None,
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
) -> RunningHub:
    """Start ``cellhub serve`` (or, with ``argv``, another command that serves the hub);
    ``prefix`` as :func:`launch` takes it."""
    token = (env or {}).get("CELLHUB_TOKEN") or secrets.token_hex(16)
    command = argv or ["serve", "--port", "0", "--data-dir", str(data_dir)]
    env = {"CELLHUB_TOKEN": token, **UNLIMITED_CLIENTS, **(env or {})}
    process, match, output = launch(command, URL_LINE, env, cwd=cwd, prefix=prefix)
    assert match.group(2) == token
    server = RunningHub(process, match.group(1) + "/", token, data_dir, output)
    if not argv or argv[0] == "serve":
        wait_for_worker(server)
    return server


def wait_for_worker(server: RunningHub, timeout: float = 90) -> None:
    """Wait for serve's worker line: serve prints its address before the worker's template
    has imported everything, and tests read the sandbox from that line."""
    deadline = time.monotonic() + timeout
    while not any("; sandbox: " in line for line in server.output):
        if server.process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("cellhub's worker did not start:\n" + "".join(server.output))
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cellhub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A cellhub shared by the tests of one module."""
    server = start_cellhub(tmp_path_factory.mktemp("cellhub"))
    yield server
    server.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[RunningHub]:
    """A cellhub of the test's own, for tests that kill or exhaust it."""
    server = start_cellhub(tmp_path / "data")
    yield server
    server.stop()


@pytest.fixture
async def hub(cellhub_server: RunningHub) -> AsyncIterator[Hub]:
    client = Hub(cellhub_server.url, cellhub_server.token)
    yield client
    await client.aclose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last: Playwright's sync API leaves its event loop marked as
    running on the main thread, and asyncio tests after it could not start their own."""
    items.sort(key=lambda item: "browser" in item.path.parts)


def deployment_cgroups(root: Path = Path("/sys/fs/cgroup")) -> set[Path]:
    """Every deployment cgroup (``cellhub-*``) on the host, under any controller."""
    found: set[Path] = set()
    for directory, children, _ in os.walk(root):
        for child in list(children):
            if child.startswith("cellhub-"):
                found.add(Path(directory) / child)
                children.remove(child)  # its sessions are inside it
    return found


def remove_if_empty(tree: Path) -> None:
    """Remove ``tree`` bottom-up; a cgroup that still holds a process stays."""
    for directory, _, _ in sorted(os.walk(tree), key=lambda entry: -len(entry[0])):
        try:
            Path(directory).rmdir()
        except OSError:
            continue


@pytest.fixture(scope="session", autouse=True)
def no_cgroups_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests kill workers with SIGKILL on purpose, and a killed worker cannot remove its
    deployment's cgroups: remove the empty ones this run made, so none pile up on the host.

    Only this run's: a deployment cgroup is named after its state dir, and those of this
    run are under its base temporary directory. Another run going on at the same time keeps
    its own, empty for a moment between two sessions as they may be."""
    before = deployment_cgroups() if os.geteuid() == 0 else set()
    yield
    if os.geteuid() == 0:
        ours = deployment_names(tmp_path_factory.getbasetemp())
        for tree in deployment_cgroups() - before:
            if tree.name in ours:
                remove_if_empty(tree)


def deployment_names(base: Path) -> set[str]:
    """The deployment cgroup names that state dirs under ``base`` would have."""
    return {deployment_cgroup(Path(directory)) for directory, _, _ in os.walk(base)}
