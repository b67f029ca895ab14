"""The worker's load reports: memory headroom from /proc and the cgroup, and a report to
every hub when the free sessions change noticeably, not on every change of a big worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cellhub.protocol import hub_worker
from cellhub.worker.load import LoadReports, memory_headroom

MiB = 2**20


def fake_host(tmp_path: Path, available_kib: int, limit: str | None) -> tuple[Path, Path]:
    """A /proc and a /sys/fs/cgroup with the worker in cgroup /cellhub, limited to ``limit``
    bytes (None: no cgroup file at all), using 100 MiB."""
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {available_kib} kB\n")
    if limit is not None:
        (proc / "self" / "cgroup").write_text("0::/cellhub\n")
        (cgroups / "cellhub").mkdir(parents=True)
        (cgroups / "cellhub" / "memory.max").write_text(f"{limit}\n")
        (cgroups / "cellhub" / "memory.current").write_text(f"{100 * MiB}\n")
    return proc, cgroups


def test_headroom_is_the_hosts_available_memory_without_a_cgroup_limit(tmp_path: Path) -> None:
    assert memory_headroom(*fake_host(tmp_path, 2048, None)) == 2 * MiB
    assert memory_headroom(*fake_host(tmp_path / "max", 2048, "max")) == 2 * MiB


def test_headroom_is_the_cgroup_limit_minus_usage_when_that_is_less(tmp_path: Path) -> None:
    assert memory_headroom(*fake_host(tmp_path, 10**9, str(300 * MiB))) == 200 * MiB
    assert memory_headroom(*fake_host(tmp_path / "roomy", 1024, str(300 * MiB))) == MiB


def test_headroom_is_zero_when_nothing_says(tmp_path: Path) -> None:
    assert memory_headroom(tmp_path / "none", tmp_path / "none") == 0


class Hub:
    def __init__(self) -> None:
        self.frames: list[list[Any]] = []

    def send(self, frame: list[Any]) -> None:
        self.frames.append(frame)


def reports_on_changes(capacity: int, counts: list[int]) -> list[int]:
    """The free sessions reported while the running kernels go through ``counts``."""
    running = [0]
    hub = Hub()
    reports = LoadReports(capacity, 1.0, lambda: running[0], [hub])
    reports.to_all()
    for count in counts:
        running[0] = count
        reports.changed()
    return [frame[1] for frame in hub.frames]


def test_a_small_worker_reports_every_change() -> None:
    assert reports_on_changes(3, [1, 2, 3, 2]) == [3, 2, 1, 0, 1]


def test_a_big_worker_reports_steps_and_being_full() -> None:
    assert reports_on_changes(64, [1, 2, 3, 4, 5, 64, 63]) == [64, 60, 0, 1]


def test_a_report_reads_back_as_the_load_frame() -> None:
    hub = Hub()
    LoadReports(5, 0.5, lambda: 2, [hub]).to_one(hub)
    (frame,) = hub.frames
    assert frame == hub_worker.load(hub_worker.Load(3, 2, 5, frame[4], 0.5))
