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
kernels they start: with the token a client sees every session; an anonymous client sees,
changes and reuses only its own sessions and kernels (others' answer 404), and the kernels
it starts count against its anonymous limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.db.jupyter_sessions import JupyterSessionRepository, SessionRecord
from cellhub.hub.anonymous import kernel_terms, may_use_kernel, owner
from cellhub.hub.auth import client_address, is_anonymous
from cellhub.hub.kernels import KERNEL_NAME, KernelService, NoSuchKernel, is_kernel_id
from cellhub.hub.kernels_api import Refused, error, launch, service
from cellhub.hub.workers import WorkerError

TEXT_FIELDS = ("path", "name", "type")


class BadSession(Exception):
    """The request cannot be done; ``response`` is the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def repository(request: Request) -> JupyterSessionRepository:
    sessions: JupyterSessionRepository = request.app.state.jupyter_sessions
    return sessions


def viewer(request: Request) -> str | None:
    """Whose sessions this client sees: an anonymous client's own, or (None) everyone's."""
    return owner(request) if is_anonymous(request) else None


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
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise BadSession(error(400, "No JSON data provided"))
    notebook = body.get("notebook")
    if isinstance(notebook, dict):
        body["type"] = "notebook"
        body["path"] = notebook.get("name", notebook.get("path"))
    for field in TEXT_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], str):
            raise BadSession(error(400, f"'{field}' must be a string"))
    if not isinstance(body.setdefault("kernel", {}), dict):
        raise BadSession(error(400, "'kernel' must be an object"))
    return body


async def found(request: Request, session_id: str) -> tuple[SessionRecord, dict[str, Any]]:
    """The session this client may see, and its kernel's model; 404 when there is none."""
    missing = BadSession(error(404, f"Session not found: session_id={session_id!r}"))
    if not is_kernel_id(session_id):
        raise missing
    record = await asyncio.to_thread(repository(request).get, session_id)
    if record is None or viewer(request) not in (None, record.owner):
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
        raise BadSession(error(400, f"No such kernel: {kernel_id}"))
    name = wanted.get("name") or KERNEL_NAME
    if not isinstance(name, str):
        raise BadSession(error(400, "'kernel.name' must be a string"))
    try:
        return str((await launch(request, name, *kernel_terms(request)))["id"])
    except Refused as exc:
        raise BadSession(exc.response) from exc
    except NoSuchKernel as exc:
        message = {
            "message": f"The '{name}' kernel is not available: {exc}",
            "short_message": f"{name} not found",
            "reason": None,
        }
        raise BadSession(JSONResponse(message, status_code=501)) from exc


async def list_sessions(request: Request) -> Response:
    """The sessions this client sees. One whose kernel no connected worker lists is looked up
    alone: dropped if its kernel is gone, left out (not dropped) if its worker is away."""
    kernels = {model["id"]: model for model in await service(request).list()}
    models = []
    for record in await asyncio.to_thread(repository(request).listed, viewer(request)):
        kernel = kernels.get(record.kernel_id)
        if kernel is None:
            with contextlib.suppress(BadSession, WorkerError):
                record, kernel = await found(request, record.id)
        if kernel is not None:
            models.append(session_model(record, kernel))
    return JSONResponse(models)


async def create_session(request: Request) -> Response:
    body = await json_body(request)
    for field in ("path", "type"):
        if body.get(field) is None:
            raise BadSession(error(400, f"Missing field in JSON data: {field}"))
    path = body["path"]
    mine = viewer(request)
    for record in await asyncio.to_thread(repository(request).listed, mine, path):
        try:
            return created(*await found(request, record.id))
        except BadSession:
            continue
    kernel_id = await kernel_for(request, body["kernel"])
    who = mine if mine is not None else client_address(request)
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


async def on_bad_session(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadSession)
    return exc.response


EXCEPTION_HANDLERS = {BadSession: on_bad_session}

ROUTES = [
    Route("/api/sessions", list_sessions, methods=["GET"]),
    Route("/api/sessions", create_session, methods=["POST"]),
    Route("/api/sessions/{session_id}", get_session, methods=["GET"]),
    Route("/api/sessions/{session_id}", patch_session, methods=["PATCH"]),
    Route("/api/sessions/{session_id}", delete_session, methods=["DELETE"]),
]
