"""Proportional set size (PSS) of processes, read from ``/proc/PID/smaps_rollup``.

PSS charges each shared page to the processes mapping it in equal parts, so the PSS of a
set of processes adds up to the memory they really cost together: a forked session that
shares its template's pages copy-on-write is charged only its share of them.
"""

from __future__ import annotations

import psutil

MiB = 2**20


def pss_bytes(pid: int) -> int:
    """PSS of one process in bytes; 0 when it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def subtree_pss(process: psutil.Process) -> int:
    """PSS of a process and all its descendants, in bytes."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    return sum(pss_bytes(member.pid) for member in members)
