"""The cluster's load balancers: on each of their hosts an HAProxy in front of every hub and a
keepalived, both configured by cellhub.deploy.render and run with its command lines, as
docs/deployment.md "HAProxy and keepalived" runs them.

The keepalived hold one virtual address between them by unicast VRRP between their hosts'
own addresses. Balancer 1 has the highest priority: it holds the address while its HAProxy
answers; when that HAProxy dies the next takes the address within seconds, and gives it back
once balancer 1's HAProxy answers again (keepalived preempts). Each HAProxy listens on port
80 of every address of its host (the virtual one whenever its host holds it), and shows its
stats on its host's own address, where its keepalived checks it and the test reads it.

Contract: :meth:`Balancer.start` returns once HAProxy's stats answer; :meth:`kill_haproxy`
SIGKILLs every process of that HAProxy (its master and its worker) and leaves keepalived
running; :meth:`stop` ends both. Debian's ``haproxy`` and ``keepalived`` provide them;
:func:`unavailable` says why they cannot run here.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from cellhub.deploy.render import (
    Endpoint,
    LoadBalancer,
    Server,
    VirtualRouter,
    keepalived_argv,
    render_keepalived,
)
from tests.cluster.hosts import Host, ip
from tests.conftest import stop
from tests.deploy.haproxy import HAPROXY, RunningHAProxy, start_haproxy

#: Debian installs it in /usr/sbin, which an ordinary user's PATH may leave out.
KEEPALIVED = shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin")
HTTP_PORT = 80
STATS_PORT = 8404
#: The VRRP virtual router id and password: the same on both balancers.
ROUTER_ID = 14
PASSWORD = "cluster"
INTERFACE = "eth0"


def unavailable() -> str:
    """Why the balancers cannot run on this machine ("" when they can)."""
    for program, package in ((HAPROXY, "haproxy"), (KEEPALIVED, "keepalived")):
        if program is None:
            return f"{package} is not installed (apt-get install {package})"
    return ""


@dataclass
class Balancer:
    """Load balancer ``number`` on ``host``: its HAProxy and keepalived, files in ``folder``."""

    number: int
    host: Host
    folder: Path
    hubs: Sequence[Server]
    haproxy: RunningHAProxy | None = None
    keepalived: subprocess.Popen[bytes] | None = None

    @property
    def keepalived_log(self) -> Path:
        return self.folder / "keepalived.log"

    def start(self, virtual: str, peers: Sequence[str]) -> None:
        """HAProxy, then keepalived claiming ``virtual`` (an address of the hosts' /24) with
        the balancers at ``peers``."""
        self.start_haproxy()
        assert KEEPALIVED is not None and self.haproxy is not None
        router = VirtualRouter(
            f"lb{self.number}",
            INTERFACE,
            f"{virtual}/24",
            ROUTER_ID,
            priority=200 - 10 * self.number,
            password=PASSWORD,
            check=self.haproxy.balancer.stats,
            peers=peers,
            source=self.host.address,
        )
        config = self.folder / "keepalived.conf"
        config.write_text(render_keepalived(router))
        argv = keepalived_argv(config, self.folder, router.name, KEEPALIVED)
        with open(self.keepalived_log, "ab") as out:
            self.keepalived = subprocess.Popen(
                [*self.host.enter, *argv], stdout=out, stderr=subprocess.STDOUT
            )

    def start_haproxy(self) -> None:
        """HAProxy in front of the hubs (again, after it was killed)."""
        balancer = LoadBalancer(
            self.hubs,
            bind=Endpoint("0.0.0.0", HTTP_PORT),
            stats=Endpoint(self.host.address, STATS_PORT),
        )
        self.haproxy = start_haproxy(balancer, self.folder, prefix=self.host.enter)

    def kill_haproxy(self) -> None:
        """SIGKILL HAProxy's master and worker at once, as a crash would end them."""
        assert self.haproxy is not None
        master = psutil.Process(self.haproxy.process.pid)
        for process in [master, *master.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.haproxy.process.wait(15)

    def holds(self, address: str) -> bool:
        """Whether this balancer's host holds ``address`` now."""
        shown = ip("-n", self.host.name, "-4", "-o", "addr", "show", "dev", INTERFACE)
        return f" {address}/" in shown

    def stop(self) -> None:
        """keepalived first (it gives the address up), then HAProxy."""
        if self.keepalived is not None:
            stop(self.keepalived)
        if self.haproxy is not None:
            stop(self.haproxy.process)

    def output(self, lines: int) -> str:
        """The last ``lines`` of what HAProxy and keepalived printed."""
        printed = [self.haproxy.output() if self.haproxy else ""]
        if self.keepalived_log.exists():
            printed.append(self.keepalived_log.read_text(errors="replace"))
        return "\n".join("".join(text.splitlines(True)[-lines:]) for text in printed)
