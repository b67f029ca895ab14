"""RateLimitedLog: the first of each kind in full, then counts; new kinds and entries bounded."""

from __future__ import annotations

from cellhub.ratelimited_log import RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_first_of_a_kind_in_full_then_one_count_per_interval() -> None:
    lines: list[str] = []
    clock = Clock()
    log = RateLimitedLog(lines.append, interval=10, clock=clock)
    assert log.report("ValueError at x.py:1", "Traceback …")
    assert not any(log.report("ValueError at x.py:1", "Traceback …") for _ in range(999))
    assert lines == ["Traceback …"]
    clock.now = 11
    log.report("ValueError at x.py:1", "Traceback …")
    assert lines[1].startswith("ValueError at x.py:1: 999 more in the last 10 s (1000 in all")
    log.flush()
    assert lines[2].startswith("ValueError at x.py:1: 1 more") and len(lines) == 3
    log.flush()
    assert len(lines) == 3


def test_new_kinds_per_interval_and_entry_size_are_bounded() -> None:
    lines: list[str] = []
    log = RateLimitedLog(lines.append, max_new_kinds=3, max_kinds=10, max_entry=100)
    for i in range(50):
        log.report(f"kind {i}", "x" * 1000)
    assert len(lines) == 3 and all(len(line) < 150 for line in lines)
    log.flush()
    assert lines[-1].startswith("other: 47 more") and len(log.pending) <= 10
