"""``GET /api/workers``: the workers this hub uses, with their state and last load report.

Each worker is listed with its name, address, capacity ``weight`` and ``state`` as the
workers file says (hub/roster.py): ``active``, ``draining``, or ``removed-draining`` for a
worker removed from the file that still runs kernels (it leaves the list once disconnected).
Workers given as a fixed list (``workers``, or ``cellhub serve``'s own) are named by their
address and always active. ``connected`` is whether this hub is connected to it now;
``sessions`` (kernels running, of every hub), ``capacity``, ``free`` and ``memory`` (bytes of
headroom) are from its last load report, null when it has sent none since the hub connected
(``memory`` also when the worker cannot tell). Each hub answers for its own connections.

``POST /api/workers/drain`` and ``/api/workers/activate`` with ``{"worker": NAME}`` (an
administrator, from the admin view) drain a worker for every hub and undo that
(hub/drains.py); a drained worker is listed ``draining`` with ``drained_by_admin`` true.
``NAME`` is the worker's name or address (which may hold slashes: ``unix:/PATH``, hence
the body rather than the path).

``POST /api/workers/spares`` with ``{"worker": NAME, "spares": N}`` has the worker keep
``N`` spare sessions ready per kernel kind from now on (hub_worker.SetSpares): before a
class that starts at once, each worker's share of the class, so that every start claims a
session forked and warmed up ahead; afterwards back to a few. It holds for every hub (the
worker keeps it) until the worker restarts with its own ``spare_sessions``. ``spares`` in
a worker's listing is how many it had ready at its last load report.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.callers import caller
from cellhub.hub.drains import AdminDrains
from cellhub.hub.json_api import error, json_object
from cellhub.hub.kernels_api import service
from cellhub.hub.roster import WorkerEntry, WorkerRoster
from cellhub.hub.workers import WorkerLink
from cellhub.log_records import service_logger

log = service_logger(__name__)

#: The most spare sessions a worker may be asked to keep (it keeps at most its
#: ``max_sessions``, as no more kernels than that can claim them).
MAX_SPARES = 100_000


def worker_model(
    link: WorkerLink, entry: WorkerEntry, state: str, held: bool = False
) -> dict[str, Any]:
    report = link.last_load
    return {
        "name": entry.name,
        "address": link.address,
        "state": "draining" if held and state == "active" else state,
        "drained_by_admin": held,
        "weight": entry.weight,
        "connected": link.connected.is_set(),
        "sessions": report.running if report else None,
        "capacity": report.capacity if report else None,
        "free": report.free if report else None,
        "memory": (report.memory or None) if report else None,
        "spares": sum(report.spares.values()) if report else None,
    }


def entries(request: Request) -> list[tuple[WorkerLink, WorkerEntry, str]]:
    """Each worker this hub uses, with its workers-file entry and state."""
    roster: WorkerRoster | None = request.app.state.roster
    found = []
    for link in service(request).links.values():
        listed = roster.state_of(link.address) if roster is not None else None
        entry, state = listed or (WorkerEntry(link.address, link.address), "active")
        found.append((link, entry, state))
    return found


async def workers(request: Request) -> Response:
    held = service(request).placement.held
    return JSONResponse(
        [worker_model(*each, held=each[0].address in held) for each in entries(request)]
    )


async def drain(request: Request) -> Response:
    return await set_drained(request, True)


async def activate(request: Request) -> Response:
    return await set_drained(request, False)


async def set_drained(request: Request, drained: bool) -> Response:
    """Drain or activate the path's worker, for every hub; 404 for a worker not in use."""
    body = await json_object(
        request, not_json="body is not valid JSON", not_object="body must be a JSON object"
    )
    name = body.get("worker")
    if not isinstance(name, str):
        return error(400, "'worker' must be a worker's name or address")
    found = named(request, name)
    if found is None:
        return error(404, f"no worker called {name!r}")
    link, entry, state = found
    drains: AdminDrains = request.app.state.drains
    by = who(request)
    await (drains.drain if drained else drains.activate)(link.address, by)
    return JSONResponse(worker_model(link, entry, state, held=drained))


async def set_spares(request: Request) -> Response:
    """Have the named worker keep ``spares`` spare sessions ready per kernel kind; 400 for a
    number out of range, 404 for a worker not in use, 503 for one not connected."""
    body = await json_object(
        request, not_json="body is not valid JSON", not_object="body must be a JSON object"
    )
    name, spares = body.get("worker"), body.get("spares")
    if not isinstance(name, str):
        return error(400, "'worker' must be a worker's name or address")
    if not isinstance(spares, int) or isinstance(spares, bool) or not 0 <= spares <= MAX_SPARES:
        return error(400, f"'spares' must be a whole number from 0 to {MAX_SPARES}")
    found = named(request, name)
    if found is None:
        return error(404, f"no worker called {name!r}")
    link, entry, state = found
    await link.set_spares(spares)
    log.info("%s set worker %s to keep %d spare sessions", who(request), entry.name, spares)
    held = link.address in service(request).placement.held
    return JSONResponse({**worker_model(link, entry, state, held), "spares_wanted": spares})


def named(request: Request, name: str) -> tuple[WorkerLink, WorkerEntry, str] | None:
    """The worker in use called ``name`` (its name or address), if any."""
    found = [each for each in entries(request) if name in (each[1].name, each[0].address)]
    return found[0] if found else None


def who(request: Request) -> str:
    """The administrator's name, for the log and the drain's row."""
    found = caller(request)
    return found.name if found is not None else "admin"


#: ``ADMIN``: the deployment's hosts and their load are the operator's business.
ROUTES = [
    Guarded(Access.ADMIN, Route("/api/workers", workers, methods=["GET"])),
    Guarded(Access.ADMIN, Route("/api/workers/drain", drain, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/workers/activate", activate, methods=["POST"])),
    Guarded(Access.ADMIN, Route("/api/workers/spares", set_spares, methods=["POST"])),
]
