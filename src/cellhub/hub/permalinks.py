"""Permalinks: short links to code.

``POST /api/permalinks {code, kernel_name?, interact_state?}`` → ``{id, url}`` (the same
content always gets the same id); ``GET /api/permalinks/{id}`` → the stored code as JSON;
``GET /s/{id}`` → the worksheet UI with that code in a cell (``?run=1`` runs it on load).
Each lookup counts a view and stamps the last access. A link is owned by whoever shared its
content first (hub/ownership.py's owner), and readable by anyone who may open the UI: a
link is for sharing. Creation is limited per client
address (``permalink_rate``) and by code size (``permalink_max_code``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cellhub.db.permalinks import PermalinkRepository, SharedCode
from cellhub.hub import pages
from cellhub.hub.access import Access, Guarded
from cellhub.hub.json_api import error, json_object, spend
from cellhub.hub.kernels import KERNEL_NAME
from cellhub.hub.ownership import kernel_terms
from cellhub.protocol import jupyter

NOT_FOUND_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>cellhub: no such link</title></head>
<body><main><h1>No such link</h1><p>This cellhub has no shared code under this address.
Check the link, or <a href="/">open an empty worksheet</a>.</p></main></body></html>"""


def repository(request: Request) -> PermalinkRepository:
    permalinks: PermalinkRepository = request.app.state.permalinks
    return permalinks


def link_url(request: Request, permalink_id: str) -> str:
    return f"{request.base_url}s/{permalink_id}"


def as_json(request: Request, shared: SharedCode) -> dict[str, Any]:
    return {
        "id": shared.id,
        "url": link_url(request, shared.id),
        "code": shared.code,
        "kernel_name": shared.kernel_name,
        "interact_state": shared.interact_state,
        "created": shared.created.isoformat(),
        "views": shared.views,
        "last_access": shared.last_access.isoformat() if shared.last_access else None,
    }


async def create(request: Request) -> Response:
    not_object = "request body must be a JSON object with a string field 'code'"
    body = await json_object(request, "request body is not valid JSON", not_object)
    if not isinstance(body.get("code"), str):
        return error(400, not_object)
    code: str = body["code"]
    kernel_name = body.get("kernel_name") or KERNEL_NAME
    if not isinstance(kernel_name, str) or len(kernel_name) > 64:
        return error(400, "'kernel_name' must be a string of at most 64 characters")
    if "\x00" in code or "\x00" in kernel_name:
        return error(400, "'code' and 'kernel_name' must not contain NUL characters")
    interact_state = body.get("interact_state")
    if not jupyter.fits_in_a_message(interact_state):
        return error(400, "'interact_state' is nested too deeply")
    limit: int = request.app.state.config.permalink_max_code
    if len(code.encode()) > limit:
        return error(413, f"the code is larger than the {limit}-byte limit for shared code")
    spend(request.app.state.permalink_creations, request, "permalinks")
    permalink_id = await asyncio.to_thread(
        repository(request).store, code, kernel_name, interact_state, kernel_terms(request)[0]
    )
    return JSONResponse(
        {"id": permalink_id, "url": link_url(request, permalink_id)},
        status_code=201,
        headers={"Location": f"/api/permalinks/{permalink_id}"},
    )


async def lookup(request: Request) -> Response:
    permalink_id = request.path_params["permalink_id"]
    shared = await asyncio.to_thread(repository(request).view, permalink_id)
    if shared is None:
        return error(404, f"no permalink {permalink_id!r}")
    return JSONResponse(as_json(request, shared))


async def open_link(request: Request) -> Response:
    """The worksheet UI with the shared code in its one cell."""
    shared = await asyncio.to_thread(repository(request).view, request.path_params["permalink_id"])
    if shared is None:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    return pages.worksheet_page(
        request,
        shared={
            "id": shared.id,
            "code": shared.code,
            "kernelName": shared.kernel_name,
            "interactState": shared.interact_state,
            "run": request.query_params.get("run", "") in ("1", "true", "yes"),
        },
    )


ROUTES = [
    Guarded(Access.ANONYMOUS, route)
    for route in (
        Route("/api/permalinks", create, methods=["POST"]),
        Route("/api/permalinks/{permalink_id}", lookup, methods=["GET"]),
        Route("/s/{permalink_id}", open_link, methods=["GET"]),
    )
]
