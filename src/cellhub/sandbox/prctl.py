"""The few Linux process controls cellhub relies on to leave no process behind."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Collection

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int) -> None:
    if _libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def die_with_parent(expected_parent: int, sig: int = signal.SIGKILL) -> None:
    """Get ``sig`` when the parent dies; exit at once if it already has.

    The check after the prctl closes the race where the parent died between
    fork and this call, leaving us re-parented and never signalled. It reads the
    parent from /proc, not ``getppid()``: that is 0 in the init of a new PID
    namespace (a session), whose parent is outside it, but this /proc is still
    the parent's.
    """
    from cellhub.sandbox.processes import stat_fields  # the sandbox imports this module

    _prctl(PR_SET_PDEATHSIG, sig)
    with open("/proc/self/stat", "rb") as f:
        parent = int(stat_fields(f.read())[1])
    if parent != expected_parent:
        os._exit(1)


def become_subreaper() -> None:
    """Adopt orphaned descendants so that they can be found and killed."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def forbid_new_privileges() -> None:
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def kill_children(deadline: float = 3.0, keep: Collection[int] = ()) -> None:
    """SIGKILL every child but those in ``keep``, and as a subreaper every orphan they
    leave, until none is left.

    Each round kills our direct children and reaps them; the orphans of those
    children are re-parented to us and are killed in the next round.
    """
    import time

    import psutil

    me = psutil.Process()
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        children = [child for child in me.children() if child.pid not in keep]
        if not children:
            return
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
        reap_all()
        time.sleep(0.01)


def reap_all() -> list[tuple[int, int]]:
    """Reap every exited child; return (pid, exit code) pairs."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, os.waitstatus_to_exitcode(status)))
