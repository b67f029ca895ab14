"""Which worker takes a new kernel: the connected one with the most free sessions.

Workers report their load (:class:`~cellhub.protocol.hub_worker.Load`) when a hub
connects, every few seconds and when their free sessions change; :class:`KernelPlacement`
ranks the connected workers by it — most free sessions times the worker's capacity weight
(1 unless the workers file, hub/roster.py, gives another), then most memory headroom, then
in turn, so that equal workers share the kernels — and leaves out those that reported
none free, those the workers file drains, and those an administrator drained
(:attr:`KernelPlacement.held`, hub/drains.py). A report is only a hint: a worker that
fills up between two reports answers the start with 503 and the hub tries the next
(:meth:`KernelService.start_on_worker <cellhub.hub.kernels.KernelService.start_on_worker>`).
A worker that has not reported yet (it may be of a release without reports) or has missed
three reports is tried after those with a fresh report, never left out: the connection,
not the reports, says whether it is there.
"""

from __future__ import annotations

import dataclasses
import time

from cellhub.hub.workers import MISSED_REPORTS, WorkerError, WorkerLink

#: Memory headrooms that differ by less than this count as equal, so that measurement noise
#: does not decide between two otherwise equal workers; taking turns does.
MEMORY_GRAIN = 256 * 2**20


class KernelPlacement:
    """Orders the workers of ``links`` for the next kernel start."""

    def __init__(self, links: list[WorkerLink]) -> None:
        self.links = list(links)
        self.turn = 0
        #: Capacity weights by worker address; a worker not named here weighs 1.
        self.weights: dict[str, float] = {}
        #: The addresses of the workers that take no new kernel (draining).
        self.closed: set[str] = set()
        #: The addresses of the workers an administrator drained (the database's word).
        self.held: set[str] = set()

    def configure(self, address: str, weight: float, taking: bool) -> None:
        """The workers file's word on a worker: its weight, and whether it takes new kernels."""
        self.weights[address] = weight
        if taking:
            self.closed.discard(address)
        else:
            self.closed.add(address)

    def add(self, link: WorkerLink) -> None:
        self.links.append(link)

    def remove(self, link: WorkerLink) -> None:
        self.links.remove(link)
        self.weights.pop(link.address, None)
        self.closed.discard(link.address)

    def taking(self, address: str) -> bool:
        """Whether the worker takes new kernels: neither the file nor an admin drains it."""
        return address not in self.closed and address not in self.held

    def fresh(self, link: WorkerLink, now: float) -> bool:
        report = link.last_load
        return report is not None and now - link.load_at <= MISSED_REPORTS * report.interval

    def candidates(self) -> list[WorkerLink]:
        """The connected workers that may have room, best first; each taking its turn first
        among its equals. Raises :class:`WorkerError` 503 when there is none."""
        now = time.monotonic()
        rotated = self.links[self.turn :] + self.links[: self.turn]
        self.turn = (self.turn + 1) % max(1, len(self.links))
        ranked: list[tuple[tuple[int, float, int], WorkerLink]] = []
        for link in rotated:
            if not link.connected.is_set() or not self.taking(link.address):
                continue
            report = link.last_load if self.fresh(link, now) else None
            if report is None:
                ranked.append(((1, 0, 0), link))
            elif report.free > 0:
                weighted = report.free * self.weights.get(link.address, 1.0)
                ranked.append(((0, -weighted, -(report.memory // MEMORY_GRAIN)), link))
        if not ranked:
            raise self.none_free()
        ranked.sort(key=lambda entry: entry[0])
        return [link for _, link in ranked]

    def full(self, link: WorkerLink) -> None:
        """``link``'s worker refused a start for want of room: no more starts there until it
        reports free sessions again."""
        if link.last_load is not None:
            link.last_load = dataclasses.replace(link.last_load, free=0)

    def none_free(self) -> WorkerError:
        """The 503 for a start no worker can take, saying why."""
        taking = [link for link in self.links if self.taking(link.address)]
        connected = [link for link in taking if link.connected.is_set()]
        if not connected and len(taking) < len(self.links):
            draining = len(self.links) - len(taking)
            return WorkerError(
                503, f"no worker takes new kernels ({draining} draining, no other connected)"
            )
        if not connected:
            return WorkerError(503, "no worker is connected")
        sizes = sorted({link.last_load.capacity for link in connected if link.last_load})
        each = ""
        if len(sizes) == 1:
            each = f", {sizes[0]} sessions each"
        elif sizes:
            each = f", {sizes[0]} to {sizes[-1]} sessions each"
        workers = "1 worker" if len(connected) == 1 else f"{len(connected)} workers"
        return WorkerError(503, f"every worker is full ({workers}{each})")
