"""The Jupyter kernels REST API: same paths, JSON and status codes as Jupyter Server."""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import cellhub
from cellhub.hub import openapi
from cellhub.hub.auth import client_address
from cellhub.hub.kernels import (
    KERNEL_NAME,
    KernelService,
    NoSuchKernel,
    OwnerLimit,
    TooManyKernels,
)
from cellhub.hub.workers import WorkerError


def error(
    status: int, message: str, headers: dict[str, str] | None = None, reason: str | None = None
) -> JSONResponse:
    """Jupyter Server's error body; ``reason`` says more where there is more to say."""
    body = {"message": message, "reason": reason}
    return JSONResponse(body, status_code=status, headers=headers)


def service(request: Request) -> KernelService:
    kernels: KernelService = request.app.state.kernels
    return kernels


async def api_root(request: Request) -> Response:
    return JSONResponse({"version": cellhub.__version__})


async def list_kernels(request: Request) -> Response:
    return JSONResponse(await service(request).list())


async def start_kernel(request: Request) -> Response:
    return await start_for(request, client_address(request))


class Refused(Exception):
    """A kernel start the client may not make now; ``response`` says why."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def launch(
    request: Request,
    name: str,
    owner: str,
    options: dict[str, Any] | None = None,
    limit: OwnerLimit | None = None,
) -> dict[str, Any]:
    """The one way a kernel is started (here and for a Jupyter session): the client's start
    budget, then the start; raises :class:`Refused` or the kernel service's errors."""
    wait = request.app.state.kernel_starts.take(client_address(request))
    if wait:
        raise Refused(
            error(
                429,
                "too many kernel starts from this client; try again later",
                {"Retry-After": str(math.ceil(wait))},
            )
        )
    return await service(request).start(name, owner, options, limit)


async def start_for(
    request: Request,
    owner: str,
    options: dict[str, Any] | None = None,
    limit: OwnerLimit | None = None,
) -> Response:
    """``POST /api/kernels``: check the body, then :func:`launch`."""
    body: Any = {}
    raw = await request.body()
    if raw.strip():
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return error(400, "request body is not valid JSON")
    if not isinstance(body, dict):
        return error(400, "request body must be a JSON object")
    name = body.get("name") or KERNEL_NAME
    if not isinstance(name, str):
        return error(400, "'name' must be a string")
    try:
        model = await launch(request, name, owner, options, limit)
    except Refused as exc:
        return exc.response
    except (NoSuchKernel, TooManyKernels, WorkerError) as exc:
        return await EXCEPTION_HANDLERS[type(exc)](request, exc)
    return JSONResponse(model, status_code=201, headers={"Location": f"/api/kernels/{model['id']}"})


async def get_kernel(request: Request) -> Response:
    return JSONResponse(await service(request).get(request.path_params["kernel_id"]))


async def delete_kernel(request: Request) -> Response:
    await service(request).shutdown(request.path_params["kernel_id"])
    return Response(status_code=204)


async def interrupt_kernel(request: Request) -> Response:
    await service(request).interrupt(request.path_params["kernel_id"])
    return Response(status_code=204)


async def restart_kernel(request: Request) -> Response:
    return JSONResponse(await service(request).restart(request.path_params["kernel_id"]))


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
    Route("/api", api_root),
    Route("/api/openapi.json", openapi.openapi_json, methods=["GET"]),
    Route("/api/kernels", list_kernels, methods=["GET"]),
    Route("/api/kernels", start_kernel, methods=["POST"]),
    Route("/api/kernels/{kernel_id}", get_kernel, methods=["GET"]),
    Route("/api/kernels/{kernel_id}", delete_kernel, methods=["DELETE"]),
    Route("/api/kernels/{kernel_id}/interrupt", interrupt_kernel, methods=["POST"]),
    Route("/api/kernels/{kernel_id}/restart", restart_kernel, methods=["POST"]),
]
