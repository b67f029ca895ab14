"""The Jupyter kernels REST API: same paths, JSON and status codes as Jupyter Server.

Anonymous clients and accounts (hub/ownership.py) list, start and use only their own
kernels: any other kernel id answers 403, before anything is looked up; administrators
reach every kernel.

A start whose body says ``"cellhub_page": true`` is the worksheet page's: its kernel is shut
down ``page_kernel_grace`` seconds after no page holds it any more (the worker times it, as
it times idle kernels), rather than kept for ``idle_timeout``; a page that comes back within
the grace (a reload, the same worksheet opened again) reattaches to it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import cellhub
from cellhub.hub import data_files, openapi
from cellhub.hub.access import Access, Guarded
from cellhub.hub.auth import client_address
from cellhub.hub.home_sync import HomeSync
from cellhub.hub.json_api import Refused, error, json_object, spend
from cellhub.hub.kernels import (
    KERNEL_NAME,
    KernelService,
    NoSuchKernel,
    OwnerLimit,
    TooManyKernels,
)
from cellhub.hub.owners import owner_of
from cellhub.hub.ownership import confined_to, kernel_terms, may_use_kernel, refusal
from cellhub.hub.workers import WorkerError
from cellhub.log_records import service_logger
from cellhub.storage.user_files import QuotaExceeded

log = service_logger(__name__)


def service(request: Request) -> KernelService:
    kernels: KernelService = request.app.state.kernels
    return kernels


async def usable_kernel(request: Request) -> str:
    """The path's kernel id, once this client may use that kernel (else 403)."""
    kernel_id: str = request.path_params["kernel_id"]
    if not await may_use_kernel(request, kernel_id):
        raise Refused(error(403, refusal(request)))
    return kernel_id


async def api_root(request: Request) -> Response:
    return JSONResponse({"version": cellhub.__version__})


async def list_kernels(request: Request) -> Response:
    return JSONResponse(await service(request).list_for(confined_to(request)))


async def launch(
    request: Request,
    name: str,
    owner: str,
    options: dict[str, Any] | None = None,
    limit: OwnerLimit | None = None,
) -> dict[str, Any]:
    """The one way a kernel is started (here and for a Jupyter session): the client's start
    budget, then the start; raises :class:`Refused` or the kernel service's errors."""
    spend(request.app.state.kernel_starts, request, "kernel starts")
    model = await service(request).start(name, owner, options, limit)
    mine = owner_of(request)
    if mine is not None:
        await restore_files(request, model["id"], mine)
    client = client_address(request)
    log.info("started (%s)", name, extra={"kernel_id": model["id"], "client": client})
    return model


async def start_kernel(request: Request) -> Response:
    """``POST /api/kernels``: check the body, then :func:`launch` on this client's terms."""
    body = await json_object(
        request,
        not_json="request body is not valid JSON",
        not_object="request body must be a JSON object",
        empty={},
    )
    name = body.get("name") or KERNEL_NAME
    if not isinstance(name, str):
        return error(400, "'name' must be a string")
    config = request.app.state.config
    wanted = data_files.requested(body.get("files"), config.data_origins)
    owner, options, limit = kernel_terms(request)
    grace = config.page_kernel_grace
    if body.get("cellhub_page") is True and grace > 0:
        options = {**(options or {}), "detached_grace": grace}
    model = await launch(request, name, owner, options, limit)
    if wanted:
        await data_files.fill_home(service(request), model["id"], wanted, config.data_files_size)
    return JSONResponse(model, status_code=201, headers={"Location": f"/api/kernels/{model['id']}"})


async def get_kernel(request: Request) -> Response:
    return JSONResponse(await service(request).get(await usable_kernel(request)))


async def restore_files(request: Request, kernel_id: str, owner: str) -> None:
    """The owner's files into the new kernel's home (hub/home_sync.py); a kernel that cannot
    have them is shut down rather than run without them."""
    try:
        await sync(request).restore(service(request), kernel_id, owner)
    except BaseException:
        with contextlib.suppress(Exception):
            await service(request).shutdown(kernel_id)
        raise


def sync(request: Request) -> HomeSync:
    homes: HomeSync = request.app.state.home_sync
    return homes


async def delete_kernel(request: Request) -> Response:
    kernel_id = await usable_kernel(request)
    await sync(request).save_quietly(service(request), kernel_id)
    sync(request).forget(kernel_id)
    await service(request).shutdown(kernel_id)
    return Response(status_code=204)


async def save_files(request: Request) -> Response:
    """``POST /api/kernels/{id}/files``: save what the kernel's home holds into its owner's
    files now; says whether anything changed and which conflict copies were made."""
    try:
        saved = await sync(request).save(service(request), await usable_kernel(request))
    except QuotaExceeded as exc:
        raise Refused(error(413, str(exc))) from None
    if saved is None:
        return JSONResponse({"saved": False, "head": None, "conflicts": []})
    return JSONResponse({"saved": True, "head": saved.head, "conflicts": saved.conflicts})


async def interrupt_kernel(request: Request) -> Response:
    await service(request).interrupt(await usable_kernel(request))
    return Response(status_code=204)


async def restart_kernel(request: Request) -> Response:
    """A fresh session; what the old one's code wrote is saved first, and the new home gets
    the owner's files as they are then."""
    kernel_id = await usable_kernel(request)
    await sync(request).save_quietly(service(request), kernel_id)
    model = await service(request).restart(kernel_id)
    tracked = sync(request).tracked.get(kernel_id)
    if tracked is not None:
        await sync(request).restore(service(request), kernel_id, tracked.owner)
    return JSONResponse(model)


async def on_no_such_kernel(request: Request, exc: Exception) -> Response:
    """404; for a kernel that ended, ``reason`` says why (the page shows it)."""
    ended = exc.ended if isinstance(exc, NoSuchKernel) else ""
    return error(404, f"Kernel does not exist: {exc}", reason=ended or None)


async def on_too_many_kernels(request: Request, exc: Exception) -> Response:
    return error(429, str(exc))


async def on_worker_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WorkerError)
    return error(exc.status, exc.message)


EXCEPTION_HANDLERS = {
    NoSuchKernel: on_no_such_kernel,
    TooManyKernels: on_too_many_kernels,
    WorkerError: on_worker_error,
}

ROUTES = [
    Guarded(Access.ANYONE, Route("/api", api_root)),
    Guarded(Access.ANYONE, Route("/api/openapi.json", openapi.openapi_json, methods=["GET"])),
    Guarded(Access.ANONYMOUS, Route("/api/kernels", list_kernels, methods=["GET"])),
    Guarded(Access.ANONYMOUS, Route("/api/kernels", start_kernel, methods=["POST"])),
    Guarded(Access.ANONYMOUS, Route("/api/kernels/{kernel_id}", get_kernel, methods=["GET"])),
    Guarded(Access.ANONYMOUS, Route("/api/kernels/{kernel_id}", delete_kernel, methods=["DELETE"])),
    Guarded(
        Access.ANONYMOUS,
        Route("/api/kernels/{kernel_id}/interrupt", interrupt_kernel, methods=["POST"]),
    ),
    Guarded(
        Access.ANONYMOUS,
        Route("/api/kernels/{kernel_id}/restart", restart_kernel, methods=["POST"]),
    ),
    Guarded(
        Access.USER,
        Route("/api/kernels/{kernel_id}/files", save_files, methods=["POST"]),
        scope="files",
    ),
]
