"""Which worker a kernel goes to: ranked by the workers' load reports, in turn among equals,
never a full one while another has room, and a 503 that says why when none has."""

from __future__ import annotations

import ssl
import time

import pytest

from cellhub.hub.placement import KernelPlacement
from cellhub.hub.workers import WorkerError, WorkerLink
from cellhub.protocol.hub_worker import Load

GiB = 2**30


def link(name: str, report: Load | None = None, connected: bool = True) -> WorkerLink:
    """A link as the hub holds it after the worker's handshake and ``report``."""
    made = WorkerLink(f"unix:/{name}", ssl.create_default_context(), lambda *_: None)
    if connected:
        made.connected.set()
    if report is not None:
        made.load(report)
    return made


def load(free: int, memory: int = 4 * GiB, capacity: int = 3) -> Load:
    return Load(free, capacity - free, capacity, memory, interval=1.0)


def names(links: list[WorkerLink]) -> list[str]:
    return [each.address.removeprefix("unix:/") for each in links]


async def test_the_worker_with_most_free_sessions_comes_first() -> None:
    placement = KernelPlacement([link("a", load(1)), link("b", load(3)), link("c", load(2))])
    for _ in range(3):
        assert names(placement.candidates()) == ["b", "c", "a"]


async def test_memory_headroom_decides_between_equally_free_workers() -> None:
    placement = KernelPlacement([link("a", load(2, memory=1 * GiB)), link("b", load(2, 8 * GiB))])
    assert names(placement.candidates()) == ["b", "a"]
    assert names(placement.candidates()) == ["b", "a"]


async def test_equal_workers_take_turns() -> None:
    placement = KernelPlacement([link("a", load(2)), link("b", load(2)), link("c", load(2))])
    firsts = [names(placement.candidates())[0] for _ in range(6)]
    assert firsts == ["a", "b", "c", "a", "b", "c"]


async def test_full_and_disconnected_workers_are_left_out() -> None:
    placement = KernelPlacement(
        [link("a", load(0)), link("b", load(3), connected=False), link("c", load(1))]
    )
    assert names(placement.candidates()) == ["c"]


async def test_a_worker_without_a_fresh_report_is_tried_after_those_with_one() -> None:
    stale = link("stale", load(3))
    stale.load_at = time.monotonic() - 10
    placement = KernelPlacement([link("unknown"), stale, link("known", load(1))])
    assert names(placement.candidates())[0] == "known"
    assert sorted(names(placement.candidates())[1:]) == ["stale", "unknown"]


async def test_a_worker_that_answered_full_is_not_asked_again_until_it_reports_room() -> None:
    a, b = link("a", load(3)), link("b", load(1))
    placement = KernelPlacement([a, b])
    placement.full(a)
    assert names(placement.candidates()) == ["b"]
    a.load(load(2))
    assert names(placement.candidates()) == ["a", "b"]


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ([(0, 3, True), (0, 3, True)], "every worker is full (2 workers, 3 sessions each)"),
        ([(0, 2, True), (0, 5, True)], "every worker is full (2 workers, 2 to 5 sessions each)"),
        ([(1, 3, False)], "no worker is connected"),
        ([], "no worker is connected"),
    ],
    ids=["all full", "different sizes", "none connected", "none configured"],
)
async def test_no_room_anywhere_is_a_503_that_says_why(
    workers: list[tuple[int, int, bool]], message: str
) -> None:
    """``workers``: each one's free sessions, capacity, and whether it is connected."""
    links = [
        link(str(n), load(free, capacity=capacity), connected)
        for n, (free, capacity, connected) in enumerate(workers)
    ]
    with pytest.raises(WorkerError) as refused:
        KernelPlacement(links).candidates()
    assert refused.value.status == 503 and refused.value.message == message


async def test_a_draining_worker_takes_no_new_kernel() -> None:
    placement = KernelPlacement([link("a", load(3)), link("b", load(1))])
    placement.configure("unix:/a", weight=1.0, taking=False)
    assert names(placement.candidates()) == ["b"]
    placement.configure("unix:/a", weight=1.0, taking=True)
    assert names(placement.candidates()) == ["a", "b"]


async def test_free_sessions_count_times_the_workers_weight() -> None:
    placement = KernelPlacement([link("a", load(3)), link("b", load(2))])
    placement.configure("unix:/b", weight=2.0, taking=True)
    assert names(placement.candidates()) == ["b", "a"]


async def test_when_only_draining_workers_are_left_the_503_says_so() -> None:
    placement = KernelPlacement([link("a", load(3)), link("b", load(3), connected=False)])
    placement.configure("unix:/a", weight=1.0, taking=False)
    with pytest.raises(WorkerError) as refused:
        placement.candidates()
    assert refused.value.message == "no worker takes new kernels (1 draining, no other connected)"
