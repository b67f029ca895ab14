"""What a session sandbox promises, and the steps every sandbox takes in the forked child.

A :class:`SessionSandbox` lives in the template process. For each session it
is asked, in this order:

1. :meth:`~SessionSandbox.prepare` in the template, before ``fork()``: reserve
   what the session will own (a uid, a home directory, a cgroup) and return a
   :class:`SandboxLease` describing it. Spare sessions are prepared ahead of
   time, so several leases are outstanding at once.
2. :meth:`~SessionSandbox.enter` in the forked child, before any user code
   runs: put the process inside the reservation and drop every privilege. It
   runs once per session start, so it must take at most a few milliseconds.
3. :meth:`~SessionSandbox.release` in the template, once the session has
   exited or must end: kill whatever the session left running, wipe its home
   and give the reservation back. Calling it twice is harmless.
"""

from __future__ import annotations

import abc
import os
import resource
import signal
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from cellhub.sandbox import seccomp
from cellhub.sandbox.errors import SandboxError
from cellhub.sandbox.prctl import PR_SET_PDEATHSIG, forbid_new_privileges
from cellhub.sandbox.syscalls import prctl

__all__ = ["SandboxError", "SandboxLease", "SandboxLimits", "SessionSandbox", "finish_entering"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

CPU_GRACE_SECONDS = 5
"""RLIMIT_CPU sends SIGXCPU at the soft limit; the hard limit (SIGKILL) follows this much later."""


def _limit(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one session: the one declaration of each limit.

    Each field is also a setting of the deployment, with this default and help text
    (:class:`cellhub.config.Config` extends this class), and reaches the template as
    :meth:`limit_values`; a new limit is added here and nowhere else. For the limits that
    say so, ``0`` means none.
    """

    cpu_seconds: int = _limit(
        3600,
        "CPU seconds each session process may use, not the session as a whole (RLIMIT_CPU: "
        f"SIGXCPU, then SIGKILL {CPU_GRACE_SECONDS} s later; 0: unlimited).",
    )
    address_space: int = _limit(
        8 * GiB,
        "Virtual memory per session process, in bytes (RLIMIT_AS; 0: unlimited). Generous "
        "because numpy and OpenBLAS reserve far more address space than they use; `memory` is "
        "the real limit.",
    )
    processes: int = _limit(
        256,
        "Processes and threads per session (cgroup pids.max, and RLIMIT_NPROC, which counts "
        "every process of the session's uid: of the worker's user under the rlimit sandbox).",
    )
    open_files: int = _limit(1024, "Open files per session process (RLIMIT_NOFILE).")
    file_size: int = _limit(
        1 * GiB, "Largest file a session may write, in bytes (RLIMIT_FSIZE; 0: unlimited)."
    )
    memory: int = _limit(
        2 * GiB,
        "Memory of the whole session in bytes, swap and its tmpfs files included (cgroup limit, "
        "root only).",
    )
    cpu_quota: float = _limit(
        1.0, "CPU cores the whole session may use (cgroup quota, root only; 0: no limit)."
    )
    disk_quota: int = _limit(
        512 * MiB,
        "Size in bytes of the session's home and, separately, of its /tmp: private tmpfs "
        "mounts, charged to the session's memory (root only; 0: no quota, the home is on the "
        "host disk).",
    )
    network: bool = _limit(False, "Whether sessions may use the network (root only).")
    seccomp: bool = _limit(
        True,
        "Refuse sessions the system calls they have no use for (new namespaces, keyrings, "
        "mount, ptrace, bpf, kernel modules…; a seccomp filter, see docs/threat-model.md). "
        "Needs libseccomp.so.2 and an x86_64 or aarch64 host; false only where it cannot load.",
    )

    def __post_init__(self) -> None:
        for f in fields(SandboxLimits):  # the limits only, also in the configuration
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"sandbox limit {f.name} must not be negative, not {value!r}")
        if self.processes < 1 or self.open_files < 16 or self.memory < 16 * MiB:
            raise ValueError(
                "sandbox limits too small: processes ≥ 1, open_files ≥ 16, memory ≥ 16 MiB"
            )

    def limit_values(self) -> dict[str, Any]:
        """The limits alone (of the configuration too), as the worker sends them to the
        template, which builds its :class:`SandboxLimits` from them."""
        return {f.name: getattr(self, f.name) for f in fields(SandboxLimits)}

    @staticmethod
    def optional(value: float | None) -> float | None:
        """``None`` for a limit set to ``0`` (none), so that callers test one value."""
        return value if value else None


@dataclass(eq=False)
class SandboxLease:
    """What :meth:`SessionSandbox.prepare` reserved for one session.

    Created in the template and inherited by the forked child, so the child can
    read it in :meth:`SessionSandbox.enter` without any further exchange.
    """

    id: str
    home: Path
    uid: int
    gid: int
    username: str
    details: Any = None
    """Mechanism-specific state (a cgroup, a shared pid cell)."""
    released: bool = False


class SessionSandbox(abc.ABC):
    """Base class of session sandboxes, chosen by :attr:`name` in the configuration.

    Override:

    - :meth:`describe` → one line for the start-up log: what isolation is active,
      and if some is missing, why.
    - :meth:`prepare` → a :class:`SandboxLease`; in the template, before fork.
    - :meth:`enter` → ``None``; in the forked child, before any user code. Raises
      :class:`SandboxError` (or ``OSError``) if the session cannot be confined;
      the caller must then exit the child without running user code.
    - :meth:`release` → ``None``; in the template. Idempotent. Afterwards no
      process of the session remains and its home is gone.
    - :meth:`limits_hit` (optional) → which limits intervened in a session (``oom``,
      ``pids``), read in the template before :meth:`release`, for the worker's metrics.
    - :meth:`orphans` (optional) → the pids of processes that ended sessions left
      to the template, if the mechanism cannot find them in :meth:`release`.
    - :meth:`fork` (optional) → how the template forks a session, if the mechanism needs
      more than ``os.fork()``.
    - :meth:`lower_memory` (optional) → ``None``; in the template: lower a session's
      memory limit below the deployment's (an account's limit), before it runs code.
    - :meth:`end_all` (optional) → ``None``; as the template exits, before it releases
      each lease: end every session at once where the mechanism can, so that hundreds
      of sessions are not waited for one by one.

    A sandbox is built in the template, the process that forks every session.
    """

    name: ClassVar[str]

    def __init__(self, limits: SandboxLimits, state_dir: Path) -> None:
        self.limits = limits
        self.state_dir = state_dir
        self.template_pid = os.getpid()
        if limits.seccomp:
            seccomp.session_filter()  # compiled here, once, before any fork; or fail now

    @abc.abstractmethod
    def describe(self) -> str: ...

    @abc.abstractmethod
    def prepare(self) -> SandboxLease: ...

    @abc.abstractmethod
    def enter(self, lease: SandboxLease) -> None: ...

    @abc.abstractmethod
    def release(self, lease: SandboxLease) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Remove what the sandbox made for all its sessions, once every lease is released
        (the template calls it as it exits): nothing of a stopped worker stays on the host."""

    def lower_memory(self, lease: SandboxLease, limit: int) -> None:  # noqa: B027 - optional
        """Lower the memory limit of ``lease``'s session to ``limit`` bytes. Nothing by
        default: rlimits are set by the session itself as it enters, for the deployment."""

    def end_all(self) -> None:  # noqa: B027 - an optional hook: by default nothing to do
        """End every session at once (see the class); by default :meth:`release` does it."""

    def limits_hit(self, lease: SandboxLease) -> frozenset[str]:
        """The limits that intervened in the session of ``lease``: ``oom``, ``pids``. None by
        default: rlimits leave no count (a refused allocation or fork is an error in the
        session; SIGXCPU shows in its exit code)."""
        return frozenset()

    def orphans(self, sessions: Collection[int]) -> set[int]:
        """Processes the template adopted from sessions that have ended, to be killed.

        Called in the template after it reaped a session, with the pids of the
        sessions still running. The default finds none: a mechanism that keeps a
        session's processes elsewhere (a cgroup) kills them in :meth:`release`.
        """
        return set()

    def fork(self, lease: SandboxLease) -> int:
        """Fork the process that will :meth:`enter` the sandbox: ``os.fork()`` by default."""
        return os.fork()

    def describe_rlimits(self) -> str:
        lim = self.limits
        parts = [
            f"cpu {_fmt(lim.cpu_seconds, 's')}",
            f"as {_fmt_bytes(lim.address_space)}",
            f"nproc {lim.processes}",
            f"nofile {lim.open_files}",
            f"fsize {_fmt_bytes(lim.file_size)}",
        ]
        return "rlimits " + ", ".join(parts)

    def describe_syscalls(self) -> str:
        return seccomp.describe() if self.limits.seccomp else "no seccomp filter (seccomp = false)"


def _fmt(value: float | None, unit: str) -> str:
    return f"{value:g}{unit}" if value else "unlimited"


def _fmt_bytes(value: int | None) -> str:
    if not value:
        return "unlimited"
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value} B"


def apply_rlimits(limits: SandboxLimits) -> None:
    """Lower this process's rlimits; a limit above the current hard limit is clamped to it."""
    cpu = _int(limits.cpu_seconds)
    wanted: list[tuple[int, int | None, int | None]] = [
        (resource.RLIMIT_CPU, cpu, cpu + CPU_GRACE_SECONDS if cpu else None),
        (resource.RLIMIT_AS, _int(limits.address_space), None),
        (resource.RLIMIT_NPROC, limits.processes, None),
        (resource.RLIMIT_NOFILE, limits.open_files, None),
        (resource.RLIMIT_FSIZE, _int(limits.file_size), None),
        (resource.RLIMIT_CORE, 0, None),
    ]
    for which, soft, hard in wanted:
        if soft is None:
            continue
        _, old_hard = resource.getrlimit(which)
        hard = soft if hard is None else hard
        if old_hard != resource.RLIM_INFINITY:
            hard = min(hard, old_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def _int(value: float | None) -> int | None:
    return int(value) if value else None


def die_with_template(template_pid: int) -> None:
    """SIGKILL this process when the template dies; fail if it already has.

    Must run after the last credential change, which clears the parent-death signal.
    """
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != template_pid:
        raise SandboxError("the template process died while the session was starting")


def settle_in_home(lease: SandboxLease) -> None:
    """Make the private home the session's working directory and environment."""
    os.chdir(lease.home)
    os.environ.update(HOME=str(lease.home), USER=lease.username, LOGNAME=lease.username)
    os.umask(0o077)


def finish_entering(lease: SandboxLease, limits: SandboxLimits, template_pid: int) -> None:
    """The last steps of every ``enter()``, after any credential change, unshare and mount.

    The seccomp filter comes last: it refuses ``unshare`` and ``mount`` themselves.
    """
    die_with_template(template_pid)
    forbid_new_privileges()
    apply_rlimits(limits)
    settle_in_home(lease)
    if limits.seccomp:
        seccomp.session_filter().load()
