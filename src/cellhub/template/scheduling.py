"""Spare sessions prepare themselves only with CPU time nobody else wants.

A spare is forked and warmed right after another session was claimed, that is while
someone's kernel is starting and running its first cell on the same few cores.
The template therefore puts each session it forks under ``SCHED_IDLE`` before it tells
the worker the session's pid, and the worker moves every thread of a spare back to
``SCHED_OTHER`` when it claims it: a spare still warming then
finishes at normal priority. Leaving ``SCHED_IDLE`` takes ``CAP_SYS_NICE``, so only a
worker running as root does this; otherwise spares keep the normal policy throughout.
"""

from __future__ import annotations

import contextlib
import os


def can_promote() -> bool:
    return os.geteuid() == 0


def demote(pid: int) -> None:
    """Make the process ``pid`` (and the threads and processes it will start) run only when
    a CPU is idle; a process that is gone already is left alone."""
    with contextlib.suppress(ProcessLookupError):
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


def promote(pid: int) -> None:
    """Give every thread of the session ``pid`` the normal policy back.

    The main thread goes first: threads it starts afterwards inherit the normal policy, and
    those it started before are in ``/proc`` when it is read.
    """
    normal = os.sched_param(0)
    with contextlib.suppress(ProcessLookupError, FileNotFoundError):
        os.sched_setscheduler(pid, os.SCHED_OTHER, normal)
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setscheduler(int(tid), os.SCHED_OTHER, normal)
