"""``GET /api/workers``: the workers this hub uses, with their state and last load report.

Each worker is listed with its name, address, capacity ``weight`` and ``state`` as the
workers file says (hub/roster.py): ``active``, ``draining``, or ``removed-draining`` for a
worker removed from the file that still runs kernels (it leaves the list once disconnected).
Workers given as a fixed list (``workers``, or ``cellhub serve``'s own) are named by their
address and always active. ``connected`` is whether this hub is connected to it now;
``sessions`` (kernels running, of every hub), ``capacity``, ``free`` and ``memory`` (bytes of
headroom) are from its last load report, null when it has sent none since the hub connected
(``memory`` also when the worker cannot tell). Each hub answers for its own connections.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.kernels_api import service
from cellhub.hub.roster import WorkerEntry, WorkerRoster
from cellhub.hub.workers import WorkerLink


def worker_model(link: WorkerLink, entry: WorkerEntry, state: str) -> dict[str, Any]:
    report = link.last_load
    return {
        "name": entry.name,
        "address": link.address,
        "state": state,
        "weight": entry.weight,
        "connected": link.connected.is_set(),
        "sessions": report.running if report else None,
        "capacity": report.capacity if report else None,
        "free": report.free if report else None,
        "memory": (report.memory or None) if report else None,
    }


async def workers(request: Request) -> Response:
    roster: WorkerRoster | None = request.app.state.roster
    models = []
    for link in service(request).links.values():
        listed = roster.state_of(link.address) if roster is not None else None
        entry, state = listed or (WorkerEntry(link.address, link.address), "active")
        models.append(worker_model(link, entry, state))
    return JSONResponse(models)


#: ``ADMIN``: the deployment's hosts and their load are the operator's business.
ROUTES = [Guarded(Access.ADMIN, Route("/api/workers", workers, methods=["GET"]))]
