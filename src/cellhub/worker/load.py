"""The worker's load reports: how many more sessions it can take and how much memory is
left, sent to every connected hub so that hubs place kernels on the least-loaded worker.

A report goes to a hub when it connects, to every hub each ``load_interval`` seconds, and
at once when the free sessions change noticeably (by a sixteenth of the capacity, or to or
from none), so a hub rarely sends a start to a full worker; when it does, the worker's 503
makes the hub try the next one. Reports cost one small frame per hub and a read of two or
three small files in /proc and /sys per interval; nothing on a kernel's message path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Protocol

from cellhub.protocol import hub_worker

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_headroom(proc: Path = PROC, cgroups: Path = CGROUP_ROOT) -> int:
    """Bytes the worker's sessions may still use: the host's MemAvailable, or less when the
    worker's cgroup (v2) has a memory limit closer to its usage; 0 when neither is known."""
    available = mem_available(proc)
    limited = _cgroup_room(proc, cgroups)
    if limited is None:
        return available
    return min(limited, available) if available else limited


def mem_available(proc: Path = PROC) -> int:
    """The host's ``MemAvailable`` in bytes: what can be taken without swapping or
    reclaiming; 0 when it cannot be read."""
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cgroup_room(proc: Path, cgroups: Path) -> int | None:
    try:
        entries = (proc / "self" / "cgroup").read_text().splitlines()
        path = next(line[3:] for line in entries if line.startswith("0::"))
        group = cgroups / path.lstrip("/")
        limit = (group / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((group / "memory.current").read_text()))
    except (OSError, ValueError, StopIteration):
        return None


class Hub(Protocol):
    """A connected hub, as far as load reports go."""

    def send(self, frame: list[Any]) -> None: ...


class LoadReports:
    """Sends the worker's :class:`~cellhub.protocol.hub_worker.Load` to its ``hubs`` (the
    worker's live collection of them); ``running()`` counts the worker's kernels, each of
    which holds a session or waits for one; ``kernels`` are the kinds it offers;
    ``tallies()`` gives the report's counts for the hubs' /metrics (``spares``, ``ended``,
    ``flow_pauses`` of :class:`~cellhub.protocol.hub_worker.Load`)."""

    def __init__(
        self,
        capacity: int,
        interval: float,
        running: Callable[[], int],
        hubs: Collection[Hub],
        kernels: tuple[str, ...] = ("python3",),
        tallies: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.capacity = capacity
        self.tallies = tallies
        self.kernels = kernels
        self.interval = interval
        self.running = running
        self.hubs = hubs
        self.step = max(1, capacity // 16)
        self.last_free = -1

    def report(self) -> hub_worker.Load:
        running = self.running()
        free = max(0, self.capacity - running)
        return hub_worker.Load(
            free,
            running,
            self.capacity,
            memory_headroom(),
            self.interval,
            self.kernels,
            **self.tallies(),
        )

    def to_all(self) -> None:
        report = self.report()
        self.last_free = report.free
        frame = hub_worker.load(report)
        for hub in list(self.hubs):
            hub.send(frame)

    def to_one(self, hub: Hub) -> None:
        """A hub that has just connected hears the load at once."""
        hub.send(hub_worker.load(self.report()))

    def changed(self) -> None:
        """A kernel started or ended: report now if the free sessions moved noticeably."""
        free = max(0, self.capacity - self.running())
        last = self.last_free
        if free != last and (free == 0 or last <= 0 or abs(free - last) >= self.step):
            self.to_all()

    async def forever(self) -> None:
        while True:
            self.to_all()
            await asyncio.sleep(self.interval)
