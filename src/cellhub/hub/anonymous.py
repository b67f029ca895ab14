"""Anonymous access: clients without the token, for embedded cells and public pages.

When a deployment sets ``allow_anonymous``, a client without the token may start kernels
of its own — at most ``anonymous_kernels_per_client`` at once, each culled after
``anonymous_idle_timeout`` idle and ended after ``anonymous_max_lifetime`` (the worker
enforces both; the hub passes them in the start frame) — and use only those: look them up,
interrupt, restart, shut down, connect to their channels. It may also create and read
permalinks and read the kernel specs. It never sees or touches anyone else's kernel: its
kernel list holds its own kernels only, and any other kernel id answers 403. Its Jupyter
sessions (``/api/sessions``) are admitted here and kept to its own by the sessions API
(hub/sessions_api.py), with :func:`kernel_terms` and :func:`may_use_kernel`.

An anonymous client is its network address (as for the per-client budgets); its kernels
are recorded with the owner ``anonymous:<address>``. Requests from a browser page must come
from our own origin or a configured one (``cors_origins``).

``AnonymousAccess`` sits in front of ``TokenAuth``: a request it admits is marked in its
scope (``auth.ADMITTED_ANONYMOUS``), which the token checks then accept.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cellhub.config import Config
from cellhub.hub.auth import ADMITTED_ANONYMOUS, client_address, is_anonymous, is_authenticated
from cellhub.hub.cors import origin_allowed
from cellhub.hub.kernels import KernelService, OwnerLimit, is_kernel_id
from cellhub.hub.kernels_api import error, start_for

OWNER_PREFIX = "anonymous:"
KERNEL_PATH = re.compile(r"^/api/kernels/([^/]+)(?:/interrupt|/restart|/channels)?$")
OPEN_PATHS = re.compile(r"^/api/(?:kernelspecs|permalinks|sessions)(?:/[^/]+)?$")


@dataclass(frozen=True)
class AnonymousPolicy:
    allowed: bool
    kernels_per_client: int
    idle_timeout: float
    max_lifetime: float
    origins: list[str]

    @classmethod
    def from_config(cls, config: Config) -> AnonymousPolicy:
        return cls(
            config.allow_anonymous,
            config.anonymous_kernels_per_client,
            config.anonymous_idle_timeout,
            config.anonymous_max_lifetime,
            config.cors_origins,
        )

    def kernel_options(self) -> dict[str, float]:
        """What the worker enforces for an anonymous kernel (see worker/server.py's start)."""
        return {"idle_timeout": self.idle_timeout, "max_lifetime": self.max_lifetime}


def owner(conn: HTTPConnection) -> str:
    return OWNER_PREFIX + client_address(conn)


async def owns_kernel(conn: HTTPConnection, kernel_id: str) -> bool:
    """Whether the kernel is this anonymous client's."""
    if not is_kernel_id(kernel_id):
        return False
    kernels: KernelService = conn.app.state.kernels
    record = await asyncio.to_thread(kernels.repository.get, kernel_id)
    return record is not None and record.owner == owner(conn)


async def may_use_kernel(conn: HTTPConnection, kernel_id: str) -> bool:
    """Whether this client may use the kernel: any, with the token; its own, if anonymous."""
    return not is_anonymous(conn) or await owns_kernel(conn, kernel_id)


Terms = tuple[str, dict[str, float] | None, OwnerLimit | None]


def kernel_terms(conn: HTTPConnection) -> Terms:
    """Owner, options and limit of a kernel this client starts (see :func:`anonymous_terms`)."""
    if is_anonymous(conn):
        return anonymous_terms(conn)
    return client_address(conn), None, None


def anonymous_terms(conn: HTTPConnection) -> Terms:
    """Owner, options and limit of an anonymous client's kernel; the kernel service counts
    the client's kernels against the limit as it starts one (hub/kernels.py)."""
    policy = AnonymousPolicy.from_config(conn.app.state.config)
    refusal = "anonymous clients may run {most} kernels at once; shut one down"
    return owner(conn), policy.kernel_options(), OwnerLimit(policy.kernels_per_client, refusal)


class AnonymousAccess:
    """Admits, answers or leaves alone (for ``TokenAuth`` to refuse) each tokenless API call."""

    def __init__(self, app: ASGIApp, token: str, policy: AnonymousPolicy) -> None:
        self.app = app
        self.token = token
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.policy.allowed
            or scope["type"] not in ("http", "websocket")
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if is_authenticated(conn, self.token) or not origin_allowed(conn, self.policy.origins):
            await self.app(scope, receive, send)
            return
        verdict = await self.admit(conn, receive)
        if isinstance(verdict, Response):
            if scope["type"] == "http":
                await verdict(scope, receive, send)
                return
        elif verdict:
            scope[ADMITTED_ANONYMOUS] = True
        await self.app(scope, receive, send)

    async def admit(self, conn: HTTPConnection, receive: Receive) -> Response | bool:
        """True: let it through as anonymous; a response: answer with it; False: no decision."""
        path, method = conn.url.path, conn.scope.get("method", "GET")
        if OPEN_PATHS.match(path):
            return True
        kernels: KernelService = conn.app.state.kernels
        if path == "/api/kernels" and method == "GET":
            return await self.own_kernels(conn, kernels)
        if path == "/api/kernels" and method == "POST":
            return await self.start(Request(conn.scope, receive))
        match = KERNEL_PATH.match(path)
        if match is None:
            return False
        if await owns_kernel(conn, match.group(1)):
            return True
        return error(403, "anonymous clients may only use kernels they started")

    async def own_kernels(self, conn: HTTPConnection, kernels: KernelService) -> Response:
        mine = {
            record.id
            for record in await asyncio.to_thread(kernels.repository.live)
            if record.owner == owner(conn)
        }
        return JSONResponse([model for model in await kernels.list() if model["id"] in mine])

    async def start(self, request: Request) -> Response:
        return await start_for(request, *anonymous_terms(request))
