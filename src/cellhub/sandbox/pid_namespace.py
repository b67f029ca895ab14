"""A PID namespace per session: a session sees, and can signal, only its own processes.

A process cannot move itself into a new PID namespace: ``unshare(CLONE_NEWPID)``
places only the caller's *next child* there, as its PID 1. So the template forks
each session through :func:`fork_into_new_namespace`, which returns the template
to its own namespace for the next fork. PID 1 is the namespace's init, and an
init is special:

- the namespace's orphans are re-parented to it, and it must reap them, or their
  zombies would count against the session's process limit;
- the kernel gives it only the signals it has a handler for (SIGKILL from the
  template's namespace excepted), so it cannot die of SIGXCPU, nor of a kill()
  it sends itself;
- when it exits, the kernel kills every process of the namespace: nothing of
  the session can outlive it.

User code in PID 1 would meet the first two (``subprocess`` needs the exit
statuses of its own children; a CPU limit must end the session), so PID 1 stays
a small init (:func:`become_init`): once the sandbox is entered it forks the
session (PID 2), reaps whatever exits, and when the session exits it exits with
the session's status, ``128 + N`` for a death by signal N. :func:`session_exit_code`
turns that back into ``-N`` for the worker. The template keeps the init's pid (its
own child, numbered in its own namespace) for all its bookkeeping: ``waitpid``,
signals to the process group (the session is in the init's group), scheduling.
"""

from __future__ import annotations

import os
from typing import NoReturn

from cellhub.sandbox.base import SandboxError
from cellhub.sandbox.processes import stat_fields
from cellhub.sandbox.syscalls import CLONE_NEWPID, setns, unshare

SIGNAL_EXIT_BASE = 128
"""An init exits with ``SIGNAL_EXIT_BASE + N`` when its session was killed by signal N."""

INIT_PID = 1


def fork_into_new_namespace() -> int:
    """``os.fork()``, the child being PID 1 of a new PID namespace; the caller stays in its own."""
    unshare(CLONE_NEWPID)
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0:
            _fork_into_own_namespace_again()
    return pid


def _fork_into_own_namespace_again() -> None:
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(own, CLONE_NEWPID)
    finally:
        os.close(own)


def is_init() -> bool:
    """Whether this is PID 1 of its namespace (forked by :func:`fork_into_new_namespace`)."""
    return os.getpid() == INIT_PID


class ParentWatch:
    """The pid of this process's parent as the template's namespace numbers it.

    Inside the new namespace ``getppid()`` is 0 whoever the parent is, so a template
    that died and left the init to another reaper would go unnoticed. This reads
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


def become_init() -> None:
    """Fork the session and return in it; this process stays PID 1 and never returns.

    The init keeps no descriptor of the session's (its socket above all), so the
    session's end is seen the moment it exits.
    """
    session = os.fork()
    if session == 0:
        return
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    _reap_until_exit_of(session)


def _reap_until_exit_of(session: int) -> NoReturn:
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == session:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else SIGNAL_EXIT_BASE - code)


def session_exit_code(init_code: int) -> int:
    """The session's exit code (negative: killed by that signal), from its init's."""
    return SIGNAL_EXIT_BASE - init_code if init_code > SIGNAL_EXIT_BASE else init_code
