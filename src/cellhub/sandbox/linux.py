"""The sandbox for a worker running as root: uid pool, namespaces, cgroup, rlimits."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from cellhub.sandbox import pid_namespace
from cellhub.sandbox.base import (
    SandboxError,
    SandboxLease,
    SandboxLimits,
    SessionSandbox,
    _fmt_bytes,
    finish_entering,
)
from cellhub.sandbox.cgroups import CgroupBusy, CgroupTree, SessionCgroup
from cellhub.sandbox.mounts import MountPlan, python_paths
from cellhub.sandbox.processes import kill_until_gone, living_with_uids, uids_in_use
from cellhub.sandbox.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    PR_SET_DUMPABLE,
    has_mount_api,
    prctl,
    sethostname,
    unshare,
)
from cellhub.sandbox.uids import DEFAULT_UID_RANGE, UidPool

log = logging.getLogger(__name__)

KILL_TIMEOUT = 5.0
#: Released uids set aside before one look at /proc verifies them all (see UidPool).
VERIFY_BATCH = 64
HOSTNAME = "cellhub"
#: The namespaces every session gets besides its PID namespace (made at fork). The
#: cgroup namespace is made after the session joined its cgroup, which becomes its root.
NAMESPACES = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP


@dataclass
class Confinement:
    """What a session holds of the host while it runs: its cgroup and its PID namespace's init."""

    cgroup: SessionCgroup
    init: int


def deployment_cgroup(state_dir: Path) -> str:
    """The name of the cgroup that holds the sessions of the deployment at ``state_dir``:
    the same after a restart (its stale sessions are found), another for another one."""
    return "cellhub-" + hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:10]


class LinuxSandbox(SessionSandbox):
    """Each session gets a uid of its own, namespaces, a cgroup and rlimits. Needs root.

    - **uid/gid** from ``uid_range`` (no /etc/passwd entries), supplementary
      groups dropped, ``PR_SET_NO_NEW_PRIVS``: no way back to root, not even
      through set-uid binaries.
    - **mount namespace**: read-only host, private home and /tmp on tmpfs of
      ``disk_quota`` bytes, cellhub's state directory hidden, /proc showing only
      the session's own processes (see :mod:`.mounts`).
    - **network namespace** with nothing in it (not even a loopback that is
      up), unless ``limits.network``; this also separates abstract Unix sockets.
    - **PID namespace** (see :mod:`.pid_namespace`): the session sees and signals
      only its own processes, and none outlives the namespace's init.
    - **IPC namespace**: SysV shared memory, semaphores and message queues and
      POSIX message queues are the session's own, and vanish with it.
    - **UTS namespace** (hostname ``cellhub``) and **cgroup namespace**: the
      session's cgroup is the root of what it sees of cgroups; /sys/fs/cgroup
      shows that cgroup alone (cgroup v2), or nothing (v1).
    - **cgroup** (v2, or v1 memory/pids/cpu) with the memory, process and CPU
      limits; :meth:`release` kills everything in it, so a double-forked,
      ``setsid``'d process cannot outlive its session.
    - **rlimits** per process, as in the fallback.

    The template must hold no secrets in memory: a session starts as a copy of it.
    """

    name = "linux"

    def __init__(
        self, limits: SandboxLimits, state_dir: Path, *, uid_range: range = DEFAULT_UID_RANGE
    ) -> None:
        super().__init__(limits, state_dir)
        if os.geteuid() != 0:
            raise SandboxError("the linux sandbox needs root")
        if not has_mount_api():
            raise SandboxError("the kernel lacks mount_setattr (Linux ≥ 5.12 is needed)")
        self.pool = UidPool(uid_range)
        # Processes of pool uids that predate us (a crashed template's): such a
        # uid is handed out only once a fresh look finds it free. Uids that went
        # through release() were checked there, so prepare() need not scan /proc.
        self.suspects = uids_in_use() & set(uid_range)
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.homes = state_dir / "homes"
        self.homes.mkdir(mode=0o700, exist_ok=True)
        for path in (state_dir, self.homes):
            os.chown(path, 0, 0)
            os.chmod(path, 0o700)
        self.cgroups = CgroupTree.detect(limits, deployment_cgroup(state_dir))
        self.cgroups.remove_stale()
        # The uid is the session's alone, so its RLIMIT_NPROC and its cgroup's pids.max count
        # the same tasks; the kernel checks the rlimit first. One more for the rlimit lets
        # pids.max refuse the fork, and count it in pids.events (the worker's metrics).
        self.session_rlimits = replace(limits, processes=limits.processes + 1)
        self.plan = MountPlan(state_dir, python_paths(), cgroup2=self.cgroups.version == 2)
        #: Started with the first session (an exec'd process: it costs the template nothing).
        self.inits: pid_namespace.InitMaker | None = None

    def describe(self) -> str:
        lim = self.limits
        cores = SandboxLimits.optional(lim.cpu_quota)
        quota = lim.disk_quota or None
        network = "network allowed" if lim.network else "no network (empty network namespace)"
        return (
            f"linux sandbox: uid/gid from {self.pool.ids.start}-{self.pool.ids.stop - 1}, "
            f"no supplementary groups, no_new_privs; {network}; "
            f"own pid (init + session), ipc, uts (hostname {HOSTNAME}) and cgroup namespaces; "
            f"{self.cgroups.describe()}: memory {_fmt_bytes(lim.memory)}, "
            f"pids {lim.processes}, cpu {f'{cores:g} cores' if cores else 'unlimited'}; "
            f"mount namespace: home and /tmp on tmpfs of {_fmt_bytes(quota)} each"
            f"{'' if quota else ' (no quota: home on the host disk)'}, {self.plan.describe()}; "
            f"{self.describe_rlimits()}; {self.describe_syscalls()}"
        )

    def prepare(self) -> SandboxLease:
        uid, cgroup = self._uid_and_cgroup()
        home = self.homes / str(uid)
        try:
            if home.exists():
                shutil.rmtree(home)
            home.mkdir(mode=0o700)
            os.chown(home, uid, uid)
            if self.inits is None:
                self.inits = pid_namespace.InitMaker()
            init = self.inits.make()
        except BaseException:
            cgroup.remove(0)
            self.pool.give_back(uid)
            raise
        return SandboxLease(
            id=f"session-{uid}",
            home=home,
            uid=uid,
            gid=uid,
            username=f"u{uid}",
            details=Confinement(cgroup, init),
        )

    def _uid_and_cgroup(self) -> tuple[int, SessionCgroup]:
        while True:
            uid = self._take_uid()
            try:
                return uid, self.cgroups.session(f"session-{uid}", self.limits)
            except CgroupBusy:
                self.pool.quarantine(uid)
                log.warning("uid %d quarantined: its cgroup still holds processes", uid)

    def _take_uid(self) -> int:
        try:
            return self.pool.take(self._free_of_processes)
        except SandboxError:
            if not self.pool.unverified:
                raise
        self.verify_released()
        return self.pool.take(self._free_of_processes)

    def _free_of_processes(self, uid: int) -> bool:
        if uid in self.suspects:
            if uid in uids_in_use():
                return False
            self.suspects.discard(uid)
        return True

    def fork(self, lease: SandboxLease) -> int:
        confinement: Confinement = lease.details
        return pid_namespace.fork_into(confinement.init)

    def enter(self, lease: SandboxLease) -> None:
        """Confine this process, forked by :meth:`fork` into its own PID namespace."""
        watch = pid_namespace.ParentWatch()
        confinement: Confinement = lease.details
        confinement.cgroup.join()
        os.setsid()
        unshare(NAMESPACES | (0 if self.limits.network else CLONE_NEWNET))
        sethostname(HOSTNAME)
        self.plan.apply(lease.home, lease.uid, lease.gid, self.limits.disk_quota or None)
        os.setgroups([])
        os.setresgid(lease.gid, lease.gid, lease.gid)
        os.setresuid(lease.uid, lease.uid, lease.uid)
        # The uid change made us non-dumpable, which gives /proc/self to root;
        # only this session's own uid can use what dumpable allows.
        prctl(PR_SET_DUMPABLE, 1)
        # The parent is outside the session's namespace: getppid() is 0, and the watch checks.
        finish_entering(lease, self.session_rlimits, os.getppid())
        watch.check(self.template_pid)

    def lower_memory(self, lease: SandboxLease, limit: int) -> None:
        confinement: Confinement = lease.details
        confinement.cgroup.lower_memory(limit)

    def end_all(self) -> None:
        """Kill the init maker: every init dies with it, and with each init its namespace.
        (Ending the inits one by one would wait on each, as the maker reaps them in turn.)"""
        if self.inits is not None:
            self.inits.close()
            self.inits = None

    def close(self) -> None:
        self.verify_released()
        if self.inits is not None:
            self.inits.close()
        self.cgroups.remove()

    def limits_hit(self, lease: SandboxLease) -> frozenset[str]:
        confinement: Confinement = lease.details
        return confinement.cgroup.limits_hit()

    def release(self, lease: SandboxLease) -> None:
        if lease.released:
            return
        lease.released = True
        confinement: Confinement = lease.details
        if self.inits is not None:
            self.inits.end(confinement.init)
        cgroup = confinement.cgroup
        clean = cgroup.kill(KILL_TIMEOUT)
        clean = cgroup.remove(KILL_TIMEOUT) and clean
        shutil.rmtree(lease.home, ignore_errors=True)
        if not clean:
            self.pool.quarantine(lease.uid)
            log.error("uid %d quarantined: processes of %s survived SIGKILL", lease.uid, lease.id)
            return
        self.pool.set_aside(lease.uid)
        if len(self.pool.unverified) >= VERIFY_BATCH:
            self.verify_released()

    def verify_released(self) -> None:
        """Give the set-aside uids back once one look at /proc finds none of their processes
        (nothing of a session should outlive its cgroup and PID namespace; what does is
        killed, and a uid whose processes survive SIGKILL is quarantined)."""
        busy = self.pool.verify(uids_in_use())
        if not busy:
            return
        gone = kill_until_gone(living_with_uids(busy), KILL_TIMEOUT)
        busy = self.pool.verify(uids_in_use()) if gone else busy
        for uid in busy:
            self.pool.quarantine(uid)
            log.error("uid %d quarantined: its processes survived SIGKILL", uid)
