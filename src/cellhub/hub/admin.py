"""The admin view: ``/admin``, and the two APIs only it needs — every kernel with its owner,
worker and memory, and the hub's recent errors.

The page (``templates/admin.html``, script ``static/admin.js`` built from
frontend/src/admin/) shows four tables: users (``/api/users``, hub/accounts_api.py: create,
disable, enable, reset), kernels (``GET /api/admin/kernels`` here; ended with the Jupyter
API's ``DELETE /api/kernels/{id}``, which lets an administrator end anyone's), workers
(``/api/workers``, hub/workers_api.py: drain, activate) and recent errors
(``GET /api/admin/errors``: this hub's ring, hub/recent_errors.py). All of it is ``ADMIN``:
an administrator's account or the deployment token; anyone else gets 403.

``GET /api/admin/kernels`` lists each kernel the connected workers run, as its worker
reports it (state, connections, times, resident memory) with the database's owner: an
account's name, ``anonymous (ADDRESS)``, or ``token (ADDRESS)`` for the deployment token's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import cellhub
from cellhub.hub import anonymous
from cellhub.hub.access import Access, Guarded
from cellhub.hub.callers import ACCOUNT_OWNER, caller
from cellhub.hub.kernels_api import service
from cellhub.hub.login import accounts
from cellhub.hub.recent_errors import RecentErrors
from cellhub.hub.roster import WorkerRoster
from cellhub.hub.templating import TEMPLATES
from cellhub.protocol.hub_worker import KernelModel


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


async def admin_page(request: Request) -> Response:
    who = caller(request)
    page_config = {
        "admin": who.name if who is not None else "admin",
        "version": cellhub.__version__,
    }
    html = TEMPLATES.get_template("admin.html").render(page_config=page_config)
    return HTMLResponse(html)


def owner_label(owner: str, names: dict[int, str]) -> str:
    """Who ``owner`` (a kernel's record) is, for people."""
    if owner.startswith(ACCOUNT_OWNER):
        number = owner.removeprefix(ACCOUNT_OWNER)
        return names.get(int(number), f"account {number}") if number.isdigit() else owner
    if owner.startswith(anonymous.OWNER_PREFIX):
        return f"anonymous ({owner.removeprefix(anonymous.OWNER_PREFIX)})"
    return f"token ({owner})" if owner else "token"


def kernel_row(live: KernelModel, owner: str, worker: str) -> dict[str, Any]:
    return {
        "id": live["id"],
        "name": live["name"],
        "owner": owner,
        "worker": worker,
        "execution_state": live["execution_state"],
        "connections": live["connections"],
        "created": iso(live["created"]),
        "last_activity": iso(live["last_activity"]),
        "memory": live.get("memory"),
    }


async def admin_kernels(request: Request) -> Response:
    kernels = service(request)
    records = {
        record.id: record.owner for record in await asyncio.to_thread(kernels.repository.live)
    }
    names = {
        account.id: account.name for account in await asyncio.to_thread(accounts(request).every)
    }
    roster: WorkerRoster | None = request.app.state.roster
    rows = []
    for link, live in await kernels.running():
        listed = roster.state_of(link.address) if roster is not None else None
        worker = listed[0].name if listed is not None else link.address
        rows.append(kernel_row(live, owner_label(records.get(live["id"], ""), names), worker))
    rows.sort(key=lambda row: str(row["created"]))
    return JSONResponse(rows)


async def admin_errors(request: Request) -> Response:
    ring: RecentErrors = request.app.state.recent_errors
    return JSONResponse(ring.newest_first())


ROUTES = [
    Guarded(Access.ADMIN, Route("/admin", admin_page, methods=["GET"])),
    Guarded(Access.ADMIN, Route("/api/admin/kernels", admin_kernels, methods=["GET"])),
    Guarded(Access.ADMIN, Route("/api/admin/errors", admin_errors, methods=["GET"])),
]
