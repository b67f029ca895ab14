"""The session's private view of the filesystem, built in its own mount namespace.

In that view:

- everything the host has is mounted read-only (and nosuid);
- /tmp, /var/tmp and /dev/shm are one private tmpfs of ``disk_quota`` bytes;
- the home is a private tmpfs of ``disk_quota`` bytes (or, without a quota,
  the host directory prepared for it), at the same path as on the host;
- "veils" hide directories the session must not see: cellhub's state
  directory (or the 0700 data directory around it, with the keys and the
  database), and every directory the session's uid cannot traverse on the way
  to a path it needs, such as a 0700 /root above a pyenv Python. A veil is a
  small read-only tmpfs in which only the needed paths reappear, as read-only
  bind mounts (the Python installation) or as the home. So the session can
  import from an interpreter under /root without /root being opened to it,
  and sees nothing of cellhub's data directory but its own home;
- /proc is a fresh instance, mounted from inside the session's PID namespace
  and with ``hidepid=invisible``: the session sees only its own processes, not
  the worker's command line or other sessions;
- /sys/fs/cgroup shows the session's own cgroup alone (a cgroup2 instance
  mounted from inside its cgroup namespace), or, on a cgroup v1 host, nothing (an
  empty read-only tmpfs): never the cgroups of other sessions and deployments;
- every POSIX message queue filesystem of the host (/dev/mqueue) is replaced by
  the instance of the session's own IPC namespace.

tmpfs rather than filesystem quotas: it needs no quota-enabled host
filesystem, costs microseconds, is wiped by the kernel the moment the last
process of the session exits, and is charged to the session's memory cgroup,
so disk use can never exceed the session's memory limit.

The plan is computed once (:class:`MountPlan`); :meth:`MountPlan.apply` runs
in each forked child, after it unshared its namespaces, and makes about a dozen
system calls.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from cellhub.sandbox.cgroups import CGROUP_ROOT
from cellhub.sandbox.syscalls import (
    MOUNT_ATTR_NODEV,
    MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    mount,
    mount_setattr,
    move_mount,
    open_tree_clone,
)

SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
VEIL_OPTIONS = "mode=0755,size=64k,nr_inodes=256"
KERNEL_FS_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC


def mount_points(fstype: str) -> list[Path]:
    """Where this mount namespace has filesystems of type ``fstype``."""
    found: list[Path] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            before, _, after = line.partition(" - ")
            if after.split()[0] == fstype:
                found.append(Path(before.split()[4]))
    return found


def python_paths() -> set[Path]:
    """The directories a session needs to read to import modules and start interpreters."""
    candidates = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        *sys.path,
    ]
    return {Path(os.path.realpath(p)) for p in candidates if p and os.path.isdir(p)}


def _others_can_traverse(path: Path) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IXOTH)
    except OSError:
        return False


def _under(path: Path, roots: Iterable[Path]) -> Path | None:
    return next((r for r in roots if path == r or path.is_relative_to(r)), None)


class MountPlan:
    """Which directories to veil, which to expose, and where the scratch tmpfs goes."""

    def __init__(self, state_dir: Path, readable: Iterable[Path], *, cgroup2: bool) -> None:
        self.cgroup2 = cgroup2
        self.cgroups = CGROUP_ROOT.is_dir()
        self.mqueues = mount_points("mqueue")
        state_dir = Path(os.path.realpath(state_dir))
        self.scratch = list(
            dict.fromkeys(Path(os.path.realpath(d)) for d in SCRATCH_DIRS if os.path.isdir(d))
        )
        needed = sorted(set(readable), key=lambda p: len(p.parts))
        # The homes live in the state directory, usually inside a 0700 data directory
        # (beside the keys and the database): the veil must cover the outermost directory
        # the session cannot traverse, or it could not reach its own home.
        candidates = [self._hidden_ancestor(state_dir) or state_dir]
        candidates += [v for p in needed if (v := self._hidden_ancestor(p))]
        veils: list[Path] = []
        for veil in sorted(set(candidates), key=lambda p: len(p.parts)):
            if not _under(veil, [*self.scratch, *veils]):
                veils.append(veil)
        self.veils = veils
        masks = [*self.scratch, *veils]
        exposed: list[Path] = []
        for path in needed:
            hidden = _under(path, masks) is not None and path not in masks
            covers_mask = any(m.is_relative_to(path) for m in masks)
            if hidden and not covers_mask and not _under(path, exposed):
                exposed.append(path)
        self.exposed = exposed

    @staticmethod
    def _hidden_ancestor(path: Path) -> Path | None:
        """The outermost directory on the way to ``path`` that others cannot traverse."""
        for ancestor in [*reversed(path.parents), path]:
            if not _others_can_traverse(ancestor):
                return ancestor if ancestor != Path("/") else None
        return None

    def describe(self) -> str:
        veils = ", ".join(map(str, self.veils)) or "nothing"
        exposed = ", ".join(map(str, self.exposed)) or "nothing"
        cgroups = "own cgroup only" if self.cgroup2 else "empty (cgroup v1)"
        return (
            f"read-only root; hidden: {veils}; re-exposed read-only: {exposed}; own /proc; "
            f"{CGROUP_ROOT}: {cgroups if self.cgroups else 'absent'}; "
            f"message queues: {'own' if self.mqueues else 'no /dev/mqueue on the host'}"
        )

    def apply(self, home: Path, uid: int, gid: int, disk_quota: int | None) -> None:
        """Build the view; in the child, after ``unshare(CLONE_NEWNS)``, as root."""
        os.umask(0o022)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        trees = {path: open_tree_clone(path) for path in self.exposed}
        home_tree = None if disk_quota else open_tree_clone(home)
        try:
            mount_setattr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, recursive=True)
            owner = f"uid={uid},gid={gid},mode=0700"
            size = f",size={disk_quota}" if disk_quota else ""
            if self.scratch:
                first, *others = self.scratch
                mount("tmpfs", first, "tmpfs", MS_NOSUID | MS_NODEV, owner + size)
                for other in others:
                    mount(first, other, None, MS_BIND)
            for veil in self.veils:
                veil.mkdir(parents=True, exist_ok=True)
                mount("tmpfs", veil, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, VEIL_OPTIONS)
            for path, tree in trees.items():
                path.mkdir(parents=True, exist_ok=True)
                flags = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                mount_setattr(tree, flags, recursive=True)
                move_mount(tree, path)
            home.mkdir(parents=True, exist_ok=True)
            if home_tree is None:
                mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, owner + size)
            else:
                mount_setattr(home_tree, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, recursive=True)
                move_mount(home_tree, home)
            sealed = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
            for veil in self.veils:
                mount_setattr(veil, sealed)
            self._mount_kernel_filesystems()
        finally:
            for tree in trees.values():
                os.close(tree)
            if home_tree is not None:
                os.close(home_tree)

    def _mount_kernel_filesystems(self) -> None:
        """Fresh instances of /proc, the cgroup tree and message queues: the namespaces' own."""
        mount("proc", "/proc", "proc", KERNEL_FS_FLAGS, "hidepid=invisible")
        if self.cgroups and self.cgroup2:
            mount("cgroup2", CGROUP_ROOT, "cgroup2", KERNEL_FS_FLAGS | MS_RDONLY)
        elif self.cgroups:
            mount("tmpfs", CGROUP_ROOT, "tmpfs", KERNEL_FS_FLAGS | MS_RDONLY, VEIL_OPTIONS)
        for mqueue in self.mqueues:
            mount("mqueue", mqueue, "mqueue", KERNEL_FS_FLAGS)
