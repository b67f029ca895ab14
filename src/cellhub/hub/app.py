"""The hub: an ASGI application serving the UI, the kernels API and the WebSocket bridge."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from cellhub.config import Config
from cellhub.db.database import make_engine, upgrade
from cellhub.db.jupyter_sessions import JupyterSessionRepository
from cellhub.db.kernels import KernelRepository
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.db.permalinks import PermalinkRepository
from cellhub.deploy.certificates import ensure_certificates, hub_ssl_context
from cellhub.hub import (
    kernels_api,
    kernelspecs,
    output_frame,
    pages,
    permalinks,
    sessions_api,
    status_api,
    websocket,
)
from cellhub.hub.anonymous import AnonymousAccess, AnonymousPolicy
from cellhub.hub.auth import is_authenticated
from cellhub.hub.cors import cors_middleware
from cellhub.hub.kernels import KernelService, in_background
from cellhub.hub.limits import BodySizeLimit
from cellhub.hub.login import LoginSessions
from cellhub.hub.ratelimit import ClientBudget
from cellhub.hub.security_headers import SecurityHeaders
from cellhub.hub.workers import WorkerLink

STATIC = Path(__file__).resolve().parent.parent / "static"
PUBLIC_API = {"/api", "/api/", "/api/openapi.json"}


class TokenAuth:
    """Every ``/api/`` HTTP request needs the token or a login; pages check for themselves."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/api")
            and scope["path"] not in PUBLIC_API
        ) and not is_authenticated(Request(scope), self.token):
            response = JSONResponse(
                {"message": "Forbidden: missing or wrong token", "reason": None}, 403
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"message": "Not found", "reason": None}, status_code=404)


def create_app(config: Config, token: str, worker_addresses: list[str]) -> Starlette:
    """Build the hub for workers at ``worker_addresses`` (host:port, mutual TLS)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(config.db_url)
        upgrade(engine)
        certs = ensure_certificates(config.data_path / "certs")
        context = hub_ssl_context(certs)
        service: KernelService
        links = [
            WorkerLink(
                a,
                context,
                lambda kid, why, told: service.ended(kid, why, announce=not told),
                lambda link: in_background(service.reconcile([link])),
            )
            for a in worker_addresses
        ]
        service = KernelService(KernelRepository(engine), links, config.client_max_kernels)
        app.state.kernels = service
        app.state.kernel_starts = ClientBudget(
            config.client_kernel_starts / 60, config.client_kernel_starts
        )
        app.state.messages = ClientBudget(
            config.client_message_rate, 2 * config.client_message_rate
        )
        app.state.token = token
        app.state.started = time.time()
        app.state.jupyter_sessions = JupyterSessionRepository(engine)
        app.state.config = config
        app.state.permalinks = PermalinkRepository(engine)
        app.state.login_sessions = LoginSessionRepository(engine)
        app.state.permalink_creations = ClientBudget(
            config.permalink_rate / 60, config.permalink_rate
        )
        for link in links:
            await link.start()
        await service.reconcile()
        try:
            yield
        finally:
            for link in links:
                await link.stop()
            engine.dispose()

    return Starlette(
        routes=hub_routes(),
        lifespan=lifespan,
        middleware=hub_middleware(config, token),
        exception_handlers={
            **kernels_api.EXCEPTION_HANDLERS,
            **sessions_api.EXCEPTION_HANDLERS,
            404: not_found,
        },
    )


def hub_middleware(config: Config, token: str) -> list[Middleware]:
    """The middleware, outermost first: headers and limits, then who is asking."""
    return [
        Middleware(SecurityHeaders, frame_ancestors=config.frame_ancestors),
        Middleware(BodySizeLimit, max_body_size=config.max_body_size),
        *cors_middleware(config),
        Middleware(LoginSessions, token=token, lifetime=config.login_lifetime),
        Middleware(AnonymousAccess, token=token, policy=AnonymousPolicy.from_config(config)),
        Middleware(TokenAuth, token=token),
    ]


def hub_routes() -> list[BaseRoute]:
    """Every route of the hub: the Jupyter APIs, the WebSocket bridge, pages, static files."""
    routes = [
        *kernels_api.ROUTES,
        *kernelspecs.ROUTES,
        *sessions_api.ROUTES,
        *status_api.ROUTES,
        *websocket.ROUTES,
        *pages.ROUTES,
        *permalinks.ROUTES,
        *output_frame.ROUTES,
    ]
    if STATIC.is_dir():
        routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    return routes
