"""``GET /api/status``: the server's status with Jupyter Server's fields.

``started`` is when this hub started; ``kernels`` counts the kernels of every connected
worker and ``connections`` the WebSocket clients attached to them through this hub (its own
load, which a load balancer spreads; a kernel's model counts its clients on every hub);
``last_activity`` is the latest of ``started`` and the kernels' own last activity (Jupyter
Server also counts its own REST traffic; a hub behind a load balancer sees only part of
it, so it is left out).
"""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.kernels import iso
from cellhub.hub.kernels_api import service


async def status(request: Request) -> Response:
    started: float = request.app.state.started
    kernels = await service(request).list()
    activity = (dt.datetime.fromisoformat(kernel["last_activity"]) for kernel in kernels)
    last = max([started, *(stamp.timestamp() for stamp in activity)])
    return JSONResponse(
        {
            "started": iso(started),
            "last_activity": iso(last),
            "kernels": len(kernels),
            "connections": service(request).carried(),
        }
    )


#: ``ADMIN``: it counts every kernel and connection of the deployment, not the caller's.
ROUTES = [Guarded(Access.ADMIN, Route("/api/status", status, methods=["GET"]))]
