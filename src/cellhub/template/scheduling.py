"""Spare sessions prepare themselves only with CPU time nobody else wants.

A spare is forked and warmed right after another session was claimed, that is while
someone's kernel is starting and running its first cell on the same few cores.
The template therefore prepares and forks each spare under ``SCHED_IDLE`` itself, so the
spare is idle from its first instruction (a claim's promotion always comes after), while a
session a kernel start waits for is forked at the normal policy; and the worker moves every
thread of a spare back to ``SCHED_OTHER`` when it claims it: a spare still warming then
finishes at normal priority. Leaving ``SCHED_IDLE`` takes ``CAP_SYS_NICE``, so only a
worker running as root does this; otherwise spares keep the normal policy throughout.
"""

from __future__ import annotations

import contextlib
import os


def can_promote() -> bool:
    return os.geteuid() == 0


def demote_self() -> None:
    """Make this thread (and the processes it forks) run only when a CPU is idle."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def restore_self() -> None:
    """The normal policy again for this thread (needs ``CAP_SYS_NICE``)."""
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


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
