"""One cgroup per session, with memory, pids and CPU limits: cgroup v2, or v1 controllers.

At start-up a ``cellhub`` cgroup is created below the template's own cgroup
(in every v1 hierarchy used), so sessions are accounted inside whatever slice
the worker runs in. Each session gets a child named after its uid.

Before a session's cgroup is removed, :meth:`SessionCgroup.limits_hit` reads which of its
limits intervened (the kernel's own counts: ``oom_kill`` in ``memory.events``, or
``memory.oom_control`` on v1; ``max`` in ``pids.events``), for the worker's metrics.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cellhub.sandbox.base import SandboxError, SandboxLimits
from cellhub.sandbox.processes import kill_until_gone

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
#: A session cgroup's memory limit files, in the order they must be lowered (v2; v1's
#: memory limit, then its memory+swap limit).
MEMORY_LIMITS = ("memory.max", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
#: (file, key, limit): the kernel's count of a limit's interventions in a cgroup: processes
#: the OOM killer killed (v2, v1), forks refused at ``pids.max``.
LIMIT_EVENTS = (
    ("memory.events", "oom_kill", "oom"),
    ("memory.oom_control", "oom_kill", "oom"),
    ("pids.events", "max", "pids"),
)


class CgroupBusy(SandboxError):
    """A session cgroup of that name still holds processes."""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _event_count(path: Path, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file (0 when the file is not there)."""
    try:
        lines = path.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(key + " ")), 0)


def _procs(directory: Path) -> set[int]:
    try:
        return {int(line) for line in (directory / "cgroup.procs").read_text().split()}
    except FileNotFoundError:
        return set()


@dataclass(frozen=True)
class SessionCgroup:
    """A session's cgroup: one directory on v2, one per controller hierarchy on v1."""

    directories: tuple[Path, ...]
    has_kill: bool

    def join(self) -> None:
        """Move the calling process into the cgroup (in the forked child)."""
        for directory in self.directories:
            _write(directory / "cgroup.procs", "0")

    def processes(self) -> set[int]:
        return _procs(self.directories[0])

    def limits_hit(self) -> frozenset[str]:
        """The limits that intervened in this cgroup: ``oom`` (the OOM killer killed one of
        its processes), ``pids`` (a fork was refused at its process limit)."""
        return frozenset(
            limit
            for directory in self.directories
            for file, key, limit in LIMIT_EVENTS
            if _event_count(directory / file, key) > 0
        )

    def lower_memory(self, limit: int) -> None:
        """Lower the memory limit to ``limit`` bytes (an account's limit, below the
        deployment's), never raising it. v1's memory+swap limit follows the memory limit,
        which it must never be below, so it is written after it."""
        for directory in self.directories:
            for name in MEMORY_LIMITS:
                path = directory / name
                if not path.exists():
                    continue
                current = path.read_text().strip()
                if current.isdigit() and int(current) <= limit:
                    continue
                _write(path, str(limit))

    def kill(self, timeout: float) -> bool:
        """SIGKILL every process in the cgroup; whether it emptied within ``timeout``."""
        if self.has_kill and self.processes():
            _write(self.directories[0] / "cgroup.kill", "1")
        return kill_until_gone(self.processes, timeout)

    def remove(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for directory in self.directories:
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        return False
                    time.sleep(0.005)
        return True


class CgroupTree:
    """Creates session cgroups below the ``cellhub`` parent; :meth:`detect` picks v2 or v1."""

    version: int

    def __init__(self, parents: dict[str, Path]) -> None:
        self.parents = parents

    @staticmethod
    def detect(limits: SandboxLimits, name: str) -> CgroupTree:
        """The tree below the parent cgroup ``name`` (one per deployment on a host)."""
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            return CgroupV2Tree.create(CGROUP_ROOT, limits, name)
        return CgroupV1Tree.create(limits, name)

    def describe(self) -> str:
        raise NotImplementedError

    def _set_limits(self, directories: dict[str, Path], limits: SandboxLimits) -> None:
        raise NotImplementedError

    def _has_kill(self) -> bool:
        return False

    def session(self, name: str, limits: SandboxLimits) -> SessionCgroup:
        """Create the session cgroup ``name``; :class:`CgroupBusy` if it exists with processes."""
        directories: dict[str, Path] = {}
        try:
            for controller, parent in self.parents.items():
                directory = parent / name
                try:
                    directory.mkdir()
                except FileExistsError:
                    if _procs(directory):
                        raise CgroupBusy(f"cgroup {directory} still has processes") from None
                    directory.rmdir()
                    directory.mkdir()
                directories[controller] = directory
            self._set_limits(directories, limits)
        except BaseException:
            for directory in directories.values():
                _rmdir_quietly(directory)
            raise
        unique = tuple(dict.fromkeys(directories.values()))
        return SessionCgroup(unique, self._has_kill())

    def remove_stale(self) -> None:
        """Remove empty session cgroups a previous template left behind."""
        for parent in set(self.parents.values()):
            children = parent.iterdir() if parent.is_dir() else iter(())
            for child in children:
                if child.is_dir() and not _procs(child):
                    _rmdir_quietly(child)

    def remove(self) -> None:
        """Remove the deployment's empty session cgroups, then its parent cgroups if no
        session is left in them (another worker of the same deployment may still use them:
        then they stay). A session being forked when the template is told to stop has its
        cgroup made but no lease yet to release, so the stop alone would leave it."""
        self.remove_stale()
        for parent in set(self.parents.values()):
            _rmdir_quietly(parent)


def _rmdir_quietly(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


class CgroupV1Tree(CgroupTree):
    version = 1

    @classmethod
    def create(cls, limits: SandboxLimits, name: str) -> CgroupV1Tree:
        mounts = _v1_mounts()
        own = _own_v1_paths()
        wanted = ["memory", "pids"] + (["cpu"] if SandboxLimits.optional(limits.cpu_quota) else [])
        parents: dict[str, Path] = {}
        for controller in wanted:
            if controller not in mounts or controller not in own:
                raise SandboxError(f"cgroup v1 controller {controller!r} is not mounted")
            mount_point, mount_root = mounts[controller]
            relative = os.path.relpath(own[controller], mount_root)
            parent = (mount_point / relative / name).resolve()
            parent.mkdir(exist_ok=True)
            parents[controller] = parent
        return cls(parents)

    def describe(self) -> str:
        return "cgroup v1 (" + ", ".join(f"{c}: {p}" for c, p in self.parents.items()) + ")"

    def _set_limits(self, directories: dict[str, Path], limits: SandboxLimits) -> None:
        memory = directories["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory))
        _write(directories["pids"] / "pids.max", str(limits.processes))
        cores = SandboxLimits.optional(limits.cpu_quota)
        if cores and "cpu" in directories:
            _write(directories["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(directories["cpu"] / "cpu.cfs_quota_us", str(int(cores * CPU_PERIOD_US)))

    def session(self, name: str, limits: SandboxLimits) -> SessionCgroup:
        cgroup = super().session(name, limits)
        # Processes are listed (and killed) through the pids hierarchy.
        pids = next(d for d in cgroup.directories if d.is_relative_to(self.parents["pids"]))
        ordered = (pids, *(d for d in cgroup.directories if d != pids))
        return SessionCgroup(ordered, has_kill=False)


def _v1_mounts() -> dict[str, tuple[Path, str]]:
    """Controller → (mount point, cgroup path mounted there), from /proc/self/mountinfo."""
    found: dict[str, tuple[Path, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            before, _, after = line.partition(" - ")
            fstype, _source, options = after.split()[:3]
            if fstype != "cgroup":
                continue
            root, mount_point = before.split()[3:5]
            for option in options.split(","):
                if option in V1_CONTROLLERS:
                    found.setdefault(option, (Path(mount_point), root))
    return found


def _own_v1_paths() -> dict[str, str]:
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
    return own


class CgroupV2Tree(CgroupTree):
    version = 2

    @classmethod
    def create(cls, root: Path, limits: SandboxLimits, name: str) -> CgroupV2Tree:
        own_path = next(
            line.split(":", 2)[2].strip()
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        )
        own = root / own_path.lstrip("/")
        wanted = ["memory", "pids"] + (["cpu"] if SandboxLimits.optional(limits.cpu_quota) else [])
        available = (own / "cgroup.controllers").read_text().split()
        missing = [c for c in wanted if c not in available]
        if missing:
            raise SandboxError(f"cgroup v2 controllers {missing} are not delegated to {own}")
        enable = " ".join(f"+{c}" for c in wanted)
        try:
            _write(own / "cgroup.subtree_control", enable)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            # "No internal processes": a cgroup that hands controllers to its
            # children may hold no processes itself, so move ours into a leaf.
            leaf = own / "supervisor"
            leaf.mkdir(exist_ok=True)
            for pid in _procs(own):
                with contextlib.suppress(ProcessLookupError):
                    _write(leaf / "cgroup.procs", str(pid))
            _write(own / "cgroup.subtree_control", enable)
        parent = own / name
        parent.mkdir(exist_ok=True)
        _write(parent / "cgroup.subtree_control", enable)
        return cls({"unified": parent})

    def describe(self) -> str:
        return f"cgroup v2 ({self.parents['unified']})"

    def _has_kill(self) -> bool:
        return (self.parents["unified"] / "cgroup.kill").exists()

    def _set_limits(self, directories: dict[str, Path], limits: SandboxLimits) -> None:
        directory = directories["unified"]
        _write(directory / "memory.max", str(limits.memory))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
        _write(directory / "pids.max", str(limits.processes))
        cores = SandboxLimits.optional(limits.cpu_quota)
        if cores:
            _write(directory / "cpu.max", f"{int(cores * CPU_PERIOD_US)} {CPU_PERIOD_US}")
