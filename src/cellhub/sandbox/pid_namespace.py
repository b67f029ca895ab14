"""A PID namespace per session: a session sees, and can signal, only its own processes.

A process cannot move itself into a new PID namespace: ``unshare(CLONE_NEWPID)`` or
``setns`` place only the caller's *next child* there. The namespace's first process is its
PID 1, its init, and an init is special:

- the namespace's orphans are re-parented to it, and it must reap them, or their
  zombies would count against the session's process limit;
- the kernel gives it only the signals it has a handler for (SIGKILL from an outer
  namespace excepted), so it cannot die of SIGXCPU, nor of a kill() it sends itself;
- when it exits, the kernel kills every process of the namespace: nothing of the
  session can outlive it.

User code in PID 1 would meet the first two (``subprocess`` needs the exit statuses of
its own children; a CPU limit must end the session), so PID 1 is a small init of its own,
and the session comes second. The init is not a copy of the template: forking the template
costs a copy of the page tables of everything it imported, and an init forked from it would
keep a few MiB of private pages besides. Instead, the sandbox starts one small process, the
**init maker** (:class:`InitMaker`, ``python -m cellhub.sandbox.init_maker``, started by the
template), which forks an init into a new PID namespace on request (a
fork of a small process: well under a millisecond) and answers with its pid. The template
then forks the session straight into that namespace (:func:`fork_into`) and stays its
parent, so its bookkeeping (``waitpid``, exit codes, signals to the session's group) sees
the session itself. When the session ends, the template asks the maker to end the init
(:meth:`InitMaker.end`), and with it goes whatever the session left in the namespace.

The init (:func:`.init_maker.run_init`, which then executes ``sleep``) holds no descriptor,
has whatever is re-parented to it reaped, and dies with the init maker, which dies with the
template. It runs as root, outside the session's cgroup and mount namespace: the session,
under another uid, with ``no_new_privs`` and no capabilities, can neither signal nor inspect
it (``/proc/1/root``, ``fd``, ``environ`` and ``ns`` need ptrace access to it), nor see it:
its /proc hides other users' processes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys

from cellhub.sandbox.base import SandboxError
from cellhub.sandbox.processes import stat_fields
from cellhub.sandbox.syscalls import CLONE_NEWPID, setns

#: The template's requests to the init maker: make an init (answered with its pid), or end
#: one (not answered).
MAKE, END = b"m", b"e"
PID = struct.Struct("<i")
#: The init maker's module.
MAKER = "cellhub.sandbox.init_maker"
#: Seconds the template waits for the init maker's answer.
MAKE_TIMEOUT = 10.0


class InitMaker:
    """The small process that forks each session's init into a new PID namespace.

    The inits are its children, and it reaps one only when the template ends it, so an
    init's pid stays the init's for as long as the template may use it.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", MAKER, str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
        theirs.close()
        # The first session's prepare() may run under SCHED_IDLE (a spare's, see
        # template/scheduling.py), whose policy the maker would inherit; but every session,
        # a start that someone waits for too, needs an init of it: under full load an
        # idle-only maker answered no one, and sessions failed to start.
        os.sched_setscheduler(self.process.pid, os.SCHED_OTHER, os.sched_param(0))
        ours.settimeout(MAKE_TIMEOUT)
        self.control = ours

    def make(self) -> int:
        """The pid of a new PID namespace's init; :class:`SandboxError` if the maker fails."""
        try:
            self.control.send(MAKE)
            answer = self.control.recv(PID.size)
        except OSError as exc:
            raise SandboxError(f"the PID namespace init maker failed: {exc}") from exc
        if len(answer) != PID.size:
            raise SandboxError("the PID namespace init maker exited")
        pid: int = PID.unpack(answer)[0]
        return pid

    def end(self, init: int) -> None:
        """Kill ``init``, and so every process left in its namespace."""
        # If the maker is gone, its inits went with it (their parent-death signal).
        with contextlib.suppress(OSError):
            self.control.send(END + PID.pack(init))

    def close(self) -> None:
        self.control.close()
        self.process.kill()
        self.process.wait()


def fork_into(init: int) -> int:
    """``os.fork()``, the child being a process of ``init``'s namespace; the caller stays in
    its own."""
    namespace = os.open(f"/proc/{init}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(namespace, CLONE_NEWPID)
    finally:
        os.close(namespace)
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0:
            back_to_own_namespace()
    return pid


def back_to_own_namespace() -> None:
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(own, CLONE_NEWPID)
    finally:
        os.close(own)


class ParentWatch:
    """The pid of this process's parent as the template's namespace numbers it.

    Inside the new namespace ``getppid()`` is 0 whoever the parent is, so a template
    that died and left the session to another reaper would go unnoticed. This reads
    ``/proc/self/stat`` of the template's procfs, through a descriptor opened before
    the session mounts its own /proc.
    """

    def __init__(self) -> None:
        self.fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)

    def check(self, template: int) -> None:
        """Raise :class:`SandboxError` unless ``template`` is still the parent; close the watch."""
        try:
            stat = os.pread(self.fd, 4096, 0)
        finally:
            os.close(self.fd)
        if int(stat_fields(stat)[1]) != template:
            raise SandboxError("the template process died while the session was starting")
