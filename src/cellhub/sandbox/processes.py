"""Finding and killing a session's processes by reading /proc.

Used where no cgroup holds the session: to find processes still running under a
uid before it is handed out again, and in the rlimit fallback to find a
session's process tree, process group and session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    uids: tuple[int, ...]


def stat_fields(stat: bytes) -> list[bytes]:
    """The fields of a ``/proc/PID/stat`` text that follow the command name: state, ppid, …"""
    # The command name may contain spaces and parentheses: split after the last ")".
    return stat[stat.rindex(b")") + 2 :].split()


def read_process(pid: int) -> ProcessInfo | None:
    """One process's ids, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat_fields(stat)
    uids: tuple[int, ...] = ()
    for line in status.splitlines():
        if line.startswith(b"Uid:"):
            uids = tuple(int(u) for u in line.split()[1:])
            break
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0].decode(),
        uids=uids,
    )


def all_processes() -> Iterator[ProcessInfo]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            info = read_process(int(entry.name))
            if info is not None:
                yield info


def uids_in_use() -> set[int]:
    """Every uid (real, effective, saved or filesystem) of a living process."""
    return {uid for p in all_processes() if p.state != "Z" for uid in p.uids}


def kill_until_gone(find: Callable[[], set[int]], timeout: float) -> bool:
    """SIGKILL what ``find()`` returns, again and again, until it returns nothing.

    Repeating catches processes forked while we were killing their parents.
    Returns whether everything was gone before ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        pids = find()
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def living_with_uids(uids: set[int]) -> Callable[[], set[int]]:
    """The living processes that have one of ``uids`` (real, effective, saved or filesystem)."""

    def find() -> set[int]:
        return {p.pid for p in all_processes() if uids & set(p.uids) and p.state != "Z"}

    return find


def session_tree(leader: int) -> Callable[[], set[int]]:
    """The living processes of ``leader``'s session or group, and all their descendants."""

    def find() -> set[int]:
        procs = [p for p in all_processes() if p.state != "Z"]
        found = with_descendants({p.pid for p in procs if leader in (p.pid, p.pgid, p.sid)}, procs)
        found.discard(os.getpid())
        return found

    return find


def adopted_by(parent: int, keep: Collection[int]) -> set[int]:
    """The living children of ``parent`` not in ``keep``, and all their descendants."""
    procs = [p for p in all_processes() if p.state != "Z"]
    return with_descendants({p.pid for p in procs if p.ppid == parent and p.pid not in keep}, procs)


def with_descendants(roots: set[int], procs: list[ProcessInfo]) -> set[int]:
    """``roots`` and every descendant of theirs among ``procs``."""
    children: dict[int, list[int]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p.pid)
    found = set(roots)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
