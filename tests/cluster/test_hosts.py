"""The cluster test's hosts themselves (tests/cluster/hosts.py): they reach each other and the
test client, a cut host is off the network until restored, and nothing of them is left on
the machine after a failure inside the test, nor after a run that was killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.cluster.conftest import require_hosts
from tests.cluster.hosts import Host, Network, links, namespaces

#: Names and addresses of these tests' own, apart from the cluster's.
PREFIX = "chhosts"
SUBNET = "10.231.15"
PORT = 8000
#: A run of the harness that is killed while its host runs a process: argv PREFIX SUBNET FILE.
CRASHING_RUN = """
import subprocess, sys, time
from pathlib import Path
from tests.cluster.hosts import Network
network = Network(sys.argv[1], sys.argv[2]).__enter__()
host = network.add_host("left", 9)
sleeper = subprocess.Popen([*host.enter, "sleep", "600"])
Path(sys.argv[3]).write_text(str(sleeper.pid))
time.sleep(600)
"""


@pytest.fixture(autouse=True)
def hosts_available() -> None:
    require_hosts()


def serve(host: Host, directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """An HTTP server on ``host``; it and its URL, once it answers."""
    argv = ["-m", "http.server", "--bind", host.address, "--directory", str(directory), str(PORT)]
    server = subprocess.Popen([*host.enter, sys.executable, *argv], stderr=subprocess.DEVNULL)
    url = f"http://{host.address}:{PORT}/"
    deadline = time.monotonic() + 30
    while not answers(url):
        assert time.monotonic() < deadline, f"{url} did not answer"
        time.sleep(0.05)
    return server, url


def answers(url: str, within: list[str] | None = None) -> bool:
    """Whether ``url`` answers a client here or, with ``within``, on that host."""
    if within is not None:
        fetch = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)"
        done = subprocess.run([*within, sys.executable, "-c", fetch, url], capture_output=True)
        return done.returncode == 0
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def test_hosts_reach_each_other_and_nothing_is_left_after_a_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="inside"), Network(PREFIX, SUBNET) as network:
        a, b = network.add_host("a", 2), network.add_host("b", 3)
        server, url = serve(a, tmp_path)
        assert answers(url, within=b.enter)
        assert a.pids() == [server.pid]
        raise RuntimeError("a failure inside the test")
    assert server.wait(10) == -signal.SIGKILL
    assert namespaces(PREFIX) == [] and links(PREFIX) == []


def test_a_cut_host_is_off_the_network_until_restored(tmp_path: Path) -> None:
    with Network(PREFIX, SUBNET) as network:
        host = network.add_host("a", 2)
        server, url = serve(host, tmp_path)
        host.cut()
        assert not answers(url)
        host.restore()
        deadline = time.monotonic() + 30
        while not answers(url):
            assert time.monotonic() < deadline, "the host did not come back"
            time.sleep(0.05)
        assert server.poll() is None, "the server ran on while its host was cut off"
    server.wait(10)


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie has: only its parent's wait is left)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def crashed_run(tmp_path: Path) -> Iterator[int]:
    """A run killed with SIGKILL after making a host and starting a process there; that
    process's pid."""
    ready = tmp_path / "sleeper"
    argv = [sys.executable, "-c", CRASHING_RUN, PREFIX, SUBNET, str(ready)]
    run = subprocess.Popen(argv, cwd=Path(__file__).parents[2])  # where `tests` is imported from
    deadline = time.monotonic() + 30
    while not ready.exists() or not ready.read_text():
        assert run.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    run.kill()
    run.wait()
    yield int(ready.read_text())


def test_a_killed_runs_hosts_are_removed_by_the_next(crashed_run: int) -> None:
    assert namespaces(PREFIX) == [f"{PREFIX}-left"]
    with Network(PREFIX, SUBNET) as network:
        assert namespaces(PREFIX) == [] and links(PREFIX) == [network.bridge]
        assert gone(crashed_run), "its process should have been killed"
    assert namespaces(PREFIX) == [] and links(PREFIX) == []
