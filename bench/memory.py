"""Proportional set size (PSS) of processes, read from ``/proc/PID/smaps_rollup``.

PSS charges each shared page to the processes mapping it in equal parts, so the PSS of a
set of processes adds up to the memory they really cost together: a forked session that
shares its template's pages copy-on-write is charged only its share of them.

Pages that kernel same-page merging (KSM) has merged count the same way: shared by
every process that maps them. cellhub marks its sessions' template memory mergeable;
whether pages are merged depends on the host running ``ksmd``, which ``--ksm`` turns on
for the benchmark's run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import psutil

from cellhub.template.pagemerge import KSM, ksmd_running

MiB = 2**20


def rollup_bytes(pid: int, field: str) -> int:
    """One field of a process's ``smaps_rollup`` (``Pss``, ``Private_Dirty`` …) in bytes; 0
    when it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def pss_bytes(pid: int) -> int:
    """PSS of one process in bytes; 0 when it has gone."""
    return rollup_bytes(pid, "Pss")


def subtree_pss(process: psutil.Process) -> int:
    """PSS of a process and all its descendants, in bytes."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    return sum(pss_bytes(member.pid) for member in members)


#: ksmd settings while the benchmark runs it: fast enough that 20 sessions are merged
#: within seconds (a host would scan more gently; the merged result is the same).
BENCH_KSMD = {"pages_to_scan": "10000", "sleep_millisecs": "10"}


@contextlib.contextmanager
def ksmd() -> Iterator[None]:
    """Run ksmd (root only) for the duration, then put back the host's settings.

    Stopping it again with ``run = 2`` unmerges every page, so the host is left as found.
    """
    names = ["run", *BENCH_KSMD]
    saved = {name: (KSM / name).read_text().strip() for name in names}
    try:
        for name, value in BENCH_KSMD.items():
            (KSM / name).write_text(value)
        (KSM / "run").write_text("1")
        yield
    finally:
        (KSM / "run").write_text("2" if saved["run"] != "1" else "1")
        for name in names:
            (KSM / name).write_text(saved[name])


async def merged(timeout: float = 300.0) -> float:
    """If ksmd runs, wait until a full scan merges (almost) nothing more; return the seconds
    waited. A page is merged only once it has stayed the same for a whole scan, so pages
    of sessions that just started take a few scans."""
    if not ksmd_running():
        return 0.0
    started = time.monotonic()
    scans = int((KSM / "full_scans").read_text())
    sharing = -1
    while time.monotonic() - started < timeout:
        # A full scan of many sessions can take minutes on a busy host: wait no longer.
        while int((KSM / "full_scans").read_text()) == scans:
            if time.monotonic() - started >= timeout:
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        scans = int((KSM / "full_scans").read_text())
        now_sharing = int((KSM / "pages_sharing").read_text())
        if now_sharing <= sharing + max(64, sharing // 100):
            break
        sharing = now_sharing
    return time.monotonic() - started
