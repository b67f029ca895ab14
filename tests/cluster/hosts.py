"""Hosts for a test that needs several machines: network namespaces on a bridge of its own.

A :class:`Network` is a Linux bridge in the root namespace holding the first address of a
private /24 (the test client's: tests reach every host from where they run); each
:class:`Host` is a network namespace joined to the bridge by a veth pair, with an address
of that /24 and no route anywhere else, so nothing outside the test's own hosts is
contacted.

Contract: ``with Network(prefix, subnet) as network:`` waits for any other run with the same
``prefix`` to end (a lock a crashed run releases by dying), removes what an earlier run left
behind (namespaces, links named ``PREFIX-…``), and on leaving, failed or not, kills every
process of its hosts and removes their namespaces, the veths and the bridge. Every ``ip``
call and every wait is bounded.

Processes run in a host through ``nsenter --net`` (:attr:`Host.enter`), not ``ip netns
exec``: that one also gives the process a new mount namespace with a fresh /sys, where
/sys/fs/cgroup is empty, and a worker's linux sandbox needs the cgroups.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

#: Longest interface name Linux takes (IFNAMSIZ less the final NUL).
IFNAMSIZ = 15
#: Seconds a run waits for another run with the same prefix, and for a host's processes to die.
LOCK_WAIT = 600.0
KILL_WAIT = 10.0


def unavailable() -> str:
    """Why hosts cannot be made on this machine ("" when they can): a test skips saying so."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs the cluster test as root)"
    for tool, package in (("ip", "iproute2"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (apt-get install {package})"
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return f"`ip netns` is unavailable: {done.stderr.strip()}"
    return ""


def ip(*argv: str, missing_ok: bool = False) -> str:
    """Run ``ip ARGV``; its output. ``missing_ok``: a device or namespace already gone is fine."""
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        gone = "Cannot find device" in done.stderr or "No such file" in done.stderr
        if not (missing_ok and gone):
            raise RuntimeError(f"ip {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Host:
    """One machine of the test: the namespace ``name``, whose veth's root end has that name
    too, reached at ``address``."""

    name: str
    address: str

    @property
    def enter(self) -> list[str]:
        """The command prefix that runs a program on this host, as that program's own process."""
        return ["nsenter", f"--net=/run/netns/{self.name}", "--"]

    def pids(self) -> list[int]:
        """Every process whose network is this host's (sessions have networks of their own)."""
        return [int(pid) for pid in ip("netns", "pids", self.name, missing_ok=True).split()]

    def kill_all(self) -> None:
        """SIGKILL every process on the host, as pulling its power cord would."""
        deadline = time.monotonic() + KILL_WAIT
        while pids := self.pids():
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {pids} on {self.name} did not die")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def cut(self) -> None:
        """Take the host off the network, as a pulled cable would: its processes go on."""
        ip("link", "set", self.name, "down")

    def restore(self) -> None:
        ip("link", "set", self.name, "up")

    def remove(self) -> None:
        self.kill_all()
        ip("link", "del", self.name, missing_ok=True)  # deletes both ends of the veth
        ip("netns", "del", self.name, missing_ok=True)


class Network:
    """The bridge ``PREFIX-br`` with ``SUBNET.1/24``, and the hosts :meth:`add_host` puts on it."""

    def __init__(self, prefix: str, subnet: str) -> None:
        self.prefix = prefix
        self.subnet = subnet
        self.bridge = f"{prefix}-br"
        self.hosts: list[Host] = []
        self.lock = Path(tempfile.gettempdir()) / f"{prefix}.lock"
        self.lock_fd = -1

    @property
    def cidr(self) -> str:
        return f"{self.subnet}.0/24"

    @property
    def client_address(self) -> str:
        """The root namespace's address, where the test and its clients run."""
        return f"{self.subnet}.1"

    def add_host(self, name: str, number: int) -> Host:
        """A host named ``PREFIX-NAME`` at ``SUBNET.NUMBER``, up and joined to the bridge."""
        host = Host(f"{self.prefix}-{name}", f"{self.subnet}.{number}")
        if len(host.name) > IFNAMSIZ or not 1 < number < 255:
            raise ValueError(f"no host {host.name} at {host.address}: name or number too long")
        self.hosts.append(host)
        ip("netns", "add", host.name)
        ip("link", "add", host.name, "type", "veth", "peer", "name", "eth0", "netns", host.name)
        ip("link", "set", host.name, "master", self.bridge, "up")
        ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.name, "link", "set", "eth0", "up")
        ip("-n", host.name, "link", "set", "lo", "up")
        return host

    def __enter__(self) -> Network:
        self.take_lock()
        try:
            self.remove_leftovers()
            in_use = ip("-o", "-4", "addr", "show", "to", self.cidr).strip()
            if in_use:
                raise RuntimeError(f"{self.cidr} is in use on this host: {in_use}")
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.client_address}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every host and the bridge (each attempted even when one fails); unlock."""
        try:
            failures = []
            for host in reversed(self.hosts):
                try:
                    host.remove()
                except RuntimeError as failure:
                    failures.append(failure)
            self.hosts.clear()
            ip("link", "del", self.bridge, missing_ok=True)
            if failures:
                raise failures[0]
        finally:
            os.close(self.lock_fd)

    def take_lock(self) -> None:
        """Wait (bounded) until no other run uses this prefix."""
        self.lock_fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.lock_fd)
                    raise RuntimeError(f"another run held {self.lock} for {LOCK_WAIT} s") from None
                time.sleep(0.2)

    def remove_leftovers(self) -> None:
        """Remove namespaces and links named ``PREFIX-…``: a run that held the lock before
        this one died before it could (this one holds the lock now)."""
        for name in namespaces(self.prefix):
            Host(name, "").remove()
        for name in links(self.prefix):
            ip("link", "del", name, missing_ok=True)


def namespaces(prefix: str) -> list[str]:
    """The network namespaces named ``PREFIX-…``."""
    listed = (line.split()[0] for line in ip("netns", "list").splitlines() if line.strip())
    return [name for name in listed if name.startswith(f"{prefix}-")]


def links(prefix: str) -> list[str]:
    """The root namespace's network devices named ``PREFIX-…`` (bridge, veth ends)."""
    listed = (line.split(":")[1].strip().split("@")[0] for line in ip("-o", "link").splitlines())
    return [name for name in listed if name.startswith(f"{prefix}-")]
