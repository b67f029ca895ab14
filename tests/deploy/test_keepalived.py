"""keepalived as deploy/render.py configures it: it holds the virtual address while its
HAProxy answers, and gives the address up when HAProxy dies.

One load balancer (HAProxy and keepalived, each with its rendered configuration and command
line) runs in a network namespace of the test's own, made and removed by the test, so that
nothing outside it is touched. Root only. Two load balancers handing the address over is
the cluster test's (tests/cluster/).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellhub.deploy.render import (
    Endpoint,
    LoadBalancer,
    Server,
    VirtualRouter,
    haproxy_argv,
    keepalived_argv,
    render_haproxy,
    render_keepalived,
)
from tests.deploy.haproxy import HAPROXY, needs_haproxy
from tests.polling import until

KEEPALIVED = shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin")
IP = shutil.which("ip", path="/usr/sbin:/usr/bin:/sbin:/bin")
VIRTUAL = "192.0.2.100/24"

pytestmark = [
    needs_haproxy,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(KEEPALIVED is None, reason="keepalived is not installed"),
    pytest.mark.skipif(IP is None, reason="iproute2 is not installed"),
]


def ip(*argv: str) -> str:
    assert IP is not None
    return subprocess.run([IP, *argv], check=True, capture_output=True, text=True).stdout


@contextlib.contextmanager
def namespace() -> Iterator[str]:
    """A network namespace with loopback up and one veth pair (lb0 192.0.2.11/24, lb1)."""
    name = f"cellhub-lb-{secrets.token_hex(4)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "link", "add", "lb0", "type", "veth", "peer", "name", "lb1")
        for link in ("lb0", "lb1"):
            ip("-n", name, "link", "set", link, "up")
        ip("-n", name, "addr", "add", "192.0.2.11/24", "dev", "lb0")
        yield name
    finally:
        ip("netns", "del", name)


@contextlib.contextmanager
def inside(name: str, argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` in the namespace (``ip netns exec`` execs it: the pid is its own)."""
    assert IP is not None
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [IP, "netns", "exec", name, *argv], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def holds_address(name: str) -> bool:
    return VIRTUAL in ip("-n", name, "-o", "addr", "show", "dev", "lb0")


async def test_the_address_is_held_while_haproxy_answers(tmp_path: Path) -> None:
    assert HAPROXY is not None and KEEPALIVED is not None
    stats = Endpoint("127.0.0.1", 8404)  # the namespace's own loopback: no other HAProxy there
    balancer = LoadBalancer([Server("hub1", Endpoint("192.0.2.21", 8888))], stats=stats)
    router = VirtualRouter("lb1", "lb0", VIRTUAL, 51, 150, "s3cret", check=stats)
    (tmp_path / "haproxy.cfg").write_text(render_haproxy(balancer))
    (tmp_path / "keepalived.conf").write_text(render_keepalived(router))
    haproxy = haproxy_argv(tmp_path / "haproxy.cfg", tmp_path / "haproxy.pid", HAPROXY)
    keepalived = keepalived_argv(tmp_path / "keepalived.conf", tmp_path, "lb1", KEEPALIVED)
    with (
        namespace() as name,
        inside(name, keepalived, tmp_path / "keepalived.log"),
        inside(name, haproxy, tmp_path / "haproxy.log") as running,
    ):
        log = (tmp_path / "keepalived.log").read_text
        await until(lambda: holds_address(name), f"the address taken:\n{log()}", timeout=60)
        assert (tmp_path / "keepalived-lb1-vrrp.pid").exists(), "pid files where told"
        running.kill()
        running.wait()
        await until(lambda: not holds_address(name), f"the address given up:\n{log()}", 30)
        assert "Entering FAULT STATE" in log()
