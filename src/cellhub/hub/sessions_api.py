"""Jupyter's sessions API (``/api/sessions``), with Jupyter Server's JSON and status codes.

A Jupyter session ties a path (a notebook, a console) to a kernel; Thebe and
@jupyterlab/services' ``SessionManager`` ask for one instead of a bare kernel. The
model is Jupyter Server's: ``id``, ``path``, ``name``, ``type``, ``kernel`` (the kernel's
model) and, for notebooks, the older ``notebook: {path, name}``. As there:

- ``POST`` needs ``path`` and ``type``; it reuses the session already at that path, and
  the kernel named by ``kernel.id`` when there is one, else starts ``kernel.name``
  (an unknown name answers 501); 201 and a ``Location``;
- ``PATCH`` renames (``path``, ``name``, ``type``) and changes the kernel (``kernel.id``:
  an existing one, else 400; ``kernel.name``: a new one, and the old one is shut down);
- ``DELETE`` shuts the session's kernel down; 204;
- a session whose kernel is gone is dropped when it is read, and is no longer found.

Sessions are rows in the database (:mod:`cellhub.db.jupyter_sessions`), owned like the
kernels they start (hub/ownership.py): an administrator sees every session; an anonymous
client or an account sees, changes and reuses only its own sessions and kernels (others'
answer 404), and the kernels it starts count against its limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.db.jupyter_sessions import JupyterSessionRepository, SessionRecord
from cellhub.hub.access import Access, Guarded
from cellhub.hub.json_api import Refused, error, json_object
from cellhub.hub.kernels import KERNEL_NAME, KernelService, NoSuchKernel, is_kernel_id
from cellhub.hub.kernels_api import launch, service
from cellhub.hub.ownership import confined_to, kernel_terms, may_use_kernel
from cellhub.hub.workers import WorkerError

TEXT_FIELDS = ("path", "name", "type")
NO_DATA = "No JSON data provided"


def repository(request: Request) -> JupyterSessionRepository:
    sessions: JupyterSessionRepository = request.app.state.jupyter_sessions
    return sessions


def session_model(record: SessionRecord, kernel: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {
        "id": record.id,
        "path": record.path,
        "name": record.name,
        "type": record.type,
        "kernel": kernel,
    }
    if record.type == "notebook":
        model["notebook"] = {"path": record.path, "name": record.name}
    return model


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, in Jupyter Server's older form too (``notebook``)."""
    body = await json_object(request, not_json=NO_DATA, not_object=NO_DATA)
    notebook = body.get("notebook")
    if isinstance(notebook, dict):
        body["type"] = "notebook"
        body["path"] = notebook.get("name", notebook.get("path"))
    for field in TEXT_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], str):
            raise Refused(error(400, f"'{field}' must be a string"))
    if not isinstance(body.setdefault("kernel", {}), dict):
        raise Refused(error(400, "'kernel' must be an object"))
    return body


async def found(request: Request, session_id: str) -> tuple[SessionRecord, dict[str, Any]]:
    """The session this client may see, and its kernel's model; 404 when there is none."""
    missing = Refused(error(404, f"Session not found: session_id={session_id!r}"))
    if not is_kernel_id(session_id):
        raise missing
    record = await asyncio.to_thread(repository(request).get, session_id)
    if record is None or confined_to(request) not in (None, record.owner):
        raise missing
    try:
        return record, await service(request).get(record.kernel_id)
    except NoSuchKernel:
        await asyncio.to_thread(repository(request).remove, session_id)
        raise missing from None


async def kernel_for(request: Request, wanted: dict[str, Any]) -> str:
    """The id of the kernel ``wanted`` names: an existing one by ``id``, else a new one by
    ``name`` (started as this client's)."""
    kernel_id = wanted.get("id")
    if isinstance(kernel_id, str) and kernel_id:
        if await may_use_kernel(request, kernel_id):
            try:
                await service(request).locate(kernel_id)
                return kernel_id
            except NoSuchKernel:
                pass
        raise Refused(error(400, f"No such kernel: {kernel_id}"))
    name = wanted.get("name") or KERNEL_NAME
    if not isinstance(name, str):
        raise Refused(error(400, "'kernel.name' must be a string"))
    try:
        return str((await launch(request, name, *kernel_terms(request)))["id"])
    except NoSuchKernel as exc:
        message = {
            "message": f"The '{name}' kernel is not available: {exc}",
            "short_message": f"{name} not found",
            "reason": None,
        }
        raise Refused(JSONResponse(message, status_code=501)) from exc


async def list_sessions(request: Request) -> Response:
    """The sessions this client sees. One whose kernel no connected worker lists is looked up
    alone: dropped if its kernel is gone, left out (not dropped) if its worker is away."""
    kernels = {model["id"]: model for model in await service(request).list()}
    models = []
    for record in await asyncio.to_thread(repository(request).listed, confined_to(request)):
        kernel = kernels.get(record.kernel_id)
        if kernel is None:
            with contextlib.suppress(Refused, WorkerError):
                record, kernel = await found(request, record.id)
        if kernel is not None:
            models.append(session_model(record, kernel))
    return JSONResponse(models)


async def create_session(request: Request) -> Response:
    body = await json_body(request)
    for field in ("path", "type"):
        if body.get(field) is None:
            raise Refused(error(400, f"Missing field in JSON data: {field}"))
    path = body["path"]
    mine = confined_to(request)
    for record in await asyncio.to_thread(repository(request).listed, mine, path):
        try:
            return created(*await found(request, record.id))
        except Refused:
            continue
    kernel_id = await kernel_for(request, body["kernel"])
    who = kernel_terms(request)[0]
    record = SessionRecord(
        str(uuid.uuid4()), path, body.get("name") or "", body["type"], kernel_id, who
    )
    await asyncio.to_thread(repository(request).add, record)
    return created(record, await service(request).get(kernel_id))


def created(record: SessionRecord, kernel: dict[str, Any]) -> Response:
    location = {"Location": f"/api/sessions/{record.id}"}
    return JSONResponse(session_model(record, kernel), status_code=201, headers=location)


async def get_session(request: Request) -> Response:
    return JSONResponse(session_model(*await found(request, request.path_params["session_id"])))


async def patch_session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    body = await json_body(request)
    before, _ = await found(request, session_id)
    changes = {field: body[field] for field in TEXT_FIELDS if body.get(field) is not None}
    if body["kernel"]:
        changes["kernel_id"] = await kernel_for(request, body["kernel"])
    await asyncio.to_thread(repository(request).change, session_id, **changes)
    kernels: KernelService = service(request)
    if changes.get("kernel_id", before.kernel_id) != before.kernel_id:
        with contextlib.suppress(NoSuchKernel):
            await kernels.shutdown(before.kernel_id)
    return JSONResponse(session_model(*await found(request, session_id)))


async def delete_session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    record, _ = await found(request, session_id)
    with contextlib.suppress(NoSuchKernel):
        await service(request).shutdown(record.kernel_id)
    await asyncio.to_thread(repository(request).remove, session_id)
    return Response(status_code=204)


ROUTES = [
    Guarded(Access.ANONYMOUS, route)
    for route in (
        Route("/api/sessions", list_sessions, methods=["GET"]),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route("/api/sessions/{session_id}", get_session, methods=["GET"]),
        Route("/api/sessions/{session_id}", patch_session, methods=["PATCH"]),
        Route("/api/sessions/{session_id}", delete_session, methods=["DELETE"]),
    )
]
