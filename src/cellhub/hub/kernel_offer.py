"""The kernel kinds a hub can start: those its connected workers say they offer.

Each worker names its kinds (``python3``, ``sage``; see :mod:`cellhub.kernel_kinds`) in
every load report (:class:`~cellhub.protocol.hub_worker.Load`), the first of which it
sends as a hub connects. The hub offers the union, in the order of
:data:`~cellhub.kernel_kinds.KINDS`, and starts a kernel only on a worker that offers its
kind. Before any worker has reported, the hub offers ``python3``, which every worker
does.
"""

from __future__ import annotations

from collections.abc import Iterable

from cellhub.hub.workers import WorkerLink
from cellhub.kernel_kinds import KINDS, PYTHON3


def offered_kinds(links: Iterable[WorkerLink]) -> list[str]:
    """The kinds the connected workers offer (``python3`` while none has reported)."""
    reports = [link.last_load for link in links if link.connected.is_set() and link.last_load]
    if not reports:
        return [PYTHON3.name]
    offered = {kind for report in reports for kind in report.kernels}
    return [name for name in KINDS if name in offered]


def offers(link: WorkerLink, kind: str) -> bool:
    """Whether ``link``'s worker offers ``kind``; one that has not reported yet is taken to
    offer ``python3`` alone."""
    report = link.last_load
    return kind in (report.kernels if report is not None else (PYTHON3.name,))
