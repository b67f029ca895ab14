"""The fallback sandbox for a worker that is not root: rlimits and process groups only."""

from __future__ import annotations

import itertools
import logging
import mmap
import os
import pwd
import secrets
import shutil
import struct
import tempfile
from collections.abc import Collection
from pathlib import Path

from cellhub.sandbox.base import (
    SandboxLease,
    SandboxLimits,
    SessionSandbox,
    finish_entering,
)
from cellhub.sandbox.prctl import become_subreaper
from cellhub.sandbox.processes import adopted_by, kill_until_gone, session_tree

log = logging.getLogger(__name__)

KILL_TIMEOUT = 5.0
_PID = struct.Struct("=i")


class RlimitSandbox(SessionSandbox):
    """Sessions run as the worker's own user, confined only by rlimits.

    Each session gets its own process session and group (``setsid``) and
    becomes a subreaper, so that everything it starts — even a process that
    double-forks and calls ``setsid`` — stays in its process tree while it
    lives; :meth:`release` kills that tree, the group and the session. It also
    gets a private home and a private temporary directory (``TMPDIR``) under
    ``state_dir``, both removed with the lease: with the host's /tmp shared, what a
    session put there (a ``tempfile`` of its code, its completion caches) would
    otherwise outlive it, one directory per session, for as long as the host runs.

    When the session process exits (or is killed), what it leaves behind is
    re-parented to the template: as every session is a subreaper, a child of the
    template that is not a session is such an orphan, and :meth:`orphans` names
    it (and its descendants) for the template to kill.

    Not contained: the session shares the worker's uid (it can read the
    worker's files and signal its processes), the network, /tmp and the host
    memory; RLIMIT_NPROC counts every process of the worker's user.
    """

    name = "rlimit"

    def __init__(self, limits: SandboxLimits, state_dir: Path, *, reason: str = "") -> None:
        super().__init__(limits, state_dir)
        if not reason:
            reason = "chosen in the configuration" if os.geteuid() == 0 else "not running as root"
        self.reason = reason
        self.homes = state_dir / "homes"
        self.homes.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.scratch = state_dir / "tmp"
        self.scratch.mkdir(mode=0o700, exist_ok=True)
        self._serial = itertools.count(1)
        try:
            self.username = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            self.username = f"uid{os.getuid()}"

    def describe(self) -> str:
        return (
            f"rlimit sandbox — REDUCED ISOLATION ({self.reason}): sessions run as the worker's "
            f"uid {os.getuid()} with no private uid, cgroup, filesystem, or pid, ipc, network, "
            "uts and cgroup namespaces (which need root); "
            f"{self.describe_rlimits()}; {self.describe_syscalls()}; "
            "own process session, killed as a tree; "
            f"private home under {self.homes} and TMPDIR under {self.scratch}"
        )

    def close(self) -> None:
        """Nothing host-wide to remove: each home and TMPDIR goes with its lease."""

    def prepare(self) -> SandboxLease:
        lease_id = f"{next(self._serial)}-{secrets.token_hex(4)}"
        home = self.homes / lease_id
        home.mkdir(mode=0o700)
        (self.scratch / lease_id).mkdir(mode=0o700)
        # The child writes its pid here, so release() knows which tree to kill.
        cell = mmap.mmap(-1, _PID.size)
        return SandboxLease(
            id=lease_id,
            home=home,
            uid=os.getuid(),
            gid=os.getgid(),
            username=self.username,
            details=cell,
        )

    def enter(self, lease: SandboxLease) -> None:
        os.setsid()
        lease.details[:] = _PID.pack(os.getpid())
        become_subreaper()
        # The template may have asked tempfile already, which then keeps its answer.
        tempfile.tempdir = os.environ["TMPDIR"] = str(self.scratch / lease.id)
        finish_entering(lease, self.limits, self.template_pid)

    def orphans(self, sessions: Collection[int]) -> set[int]:
        return adopted_by(os.getpid(), sessions)

    def release(self, lease: SandboxLease) -> None:
        if lease.released:
            return
        lease.released = True
        cell: mmap.mmap = lease.details
        (leader,) = _PID.unpack(cell[:])
        cell.close()
        if leader > 0 and not kill_until_gone(session_tree(leader), KILL_TIMEOUT):
            log.warning("session %s: processes of session %d survived SIGKILL", lease.id, leader)
        shutil.rmtree(lease.home, ignore_errors=True)
        shutil.rmtree(self.scratch / lease.id, ignore_errors=True)
