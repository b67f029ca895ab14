"""The hub: an ASGI application serving the UI, the kernels API and the WebSocket bridge.

Its route table (:func:`hub_routes`) is every route with the access it needs
(hub/access.py); the middleware around it sets headers and limits and says who is asking,
and refuses what may not pass, but answers nothing else (but the login's redirect that
turns a page's ``?token=`` into a login cookie, hub/login.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from cellhub.config import Config
from cellhub.db.database import make_engine, upgrade
from cellhub.db.jupyter_sessions import JupyterSessionRepository
from cellhub.db.kernels import KernelRepository
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.db.permalinks import PermalinkRepository
from cellhub.db.worksheets import WorksheetRepository
from cellhub.deploy.certificates import credentials, hub_ssl_context
from cellhub.hub import (
    contents_api,
    health_api,
    json_api,
    kernels_api,
    kernelspecs,
    metrics,
    output_frame,
    pages,
    permalinks,
    sessions_api,
    status_api,
    websocket,
    workers_api,
    worksheets_api,
)
from cellhub.hub.access import Access, AccessControl, Guarded
from cellhub.hub.anonymous import AnonymousPolicy
from cellhub.hub.channels import Traffic
from cellhub.hub.cors import cors_middleware
from cellhub.hub.kernels import KernelService, in_background
from cellhub.hub.limits import BodySizeLimit
from cellhub.hub.login import LoginSessions
from cellhub.hub.metrics import HubMetrics, ResponseCounter
from cellhub.hub.ratelimit import ClientBudget
from cellhub.hub.roster import WorkerRoster
from cellhub.hub.security_headers import SecurityHeaders
from cellhub.hub.workers import WorkerLink

STATIC = Path(__file__).resolve().parent.parent / "static"


def create_app(config: Config, token: str, worker_addresses: list[str]) -> Starlette:
    """Build the hub for workers at ``worker_addresses`` (host:port, mutual TLS), and those
    of the configuration's ``workers_file`` (hub/roster.py)."""
    hub_metrics = HubMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(config.db_url)
        upgrade(engine)
        context = hub_ssl_context(credentials(config, "hub"))
        service: KernelService
        traffic = Traffic()

        def link_to(address: str) -> WorkerLink:
            return WorkerLink(
                address,
                context,
                lambda kid, why, told: service.ended(kid, why, announce=not told),
                lambda link: in_background(service.reconcile([link])),
                lambda link: service.lost(link),
                config.worker_timeout,
                traffic,
            )

        links = [link_to(address) for address in worker_addresses]
        service = KernelService(KernelRepository(engine), links, config.client_max_kernels)
        roster = None
        if config.workers_file:
            roster = WorkerRoster(Path(config.workers_file), service, link_to)
        hub_metrics.watch(service, traffic, engine)
        app.state.kernels = service
        app.state.roster = roster
        init_budgets(app, config)
        app.state.token = token
        app.state.started = time.time()
        app.state.config = config
        init_repositories(app, engine)
        app.state.worksheets = WorksheetRepository(engine, config.worksheet_versions)
        for link in links:
            await link.start()
        await service.reconcile()
        if roster is not None:
            await roster.start()
        try:
            yield
        finally:
            if roster is not None:
                await roster.stop()
            for link in list(service.links.values()):
                await link.stop()
            engine.dispose()

    table = hub_routes()
    app = Starlette(
        routes=[guarded.route for guarded in table],
        lifespan=lifespan,
        middleware=hub_middleware(config, token, table, hub_metrics),
        exception_handlers={**kernels_api.EXCEPTION_HANDLERS, **json_api.EXCEPTION_HANDLERS},
    )
    app.state.metrics = hub_metrics
    return app


def init_repositories(app: Starlette, engine: Engine) -> None:
    """What the routes keep in the database, and the probe of it that health checks use."""
    app.state.jupyter_sessions = JupyterSessionRepository(engine)
    app.state.permalinks = PermalinkRepository(engine)
    app.state.login_sessions = LoginSessionRepository(engine)
    app.state.database_probe = health_api.DatabaseProbe(engine)


def init_budgets(app: Starlette, config: Config) -> None:
    """Each client's budgets: kernel starts, WebSocket messages, permalinks."""
    app.state.kernel_starts = ClientBudget(
        config.client_kernel_starts / 60, config.client_kernel_starts
    )
    app.state.messages = ClientBudget(config.client_message_rate, 2 * config.client_message_rate)
    app.state.permalink_creations = ClientBudget(config.permalink_rate / 60, config.permalink_rate)


def hub_middleware(
    config: Config, token: str, table: list[Guarded], hub_metrics: HubMetrics
) -> list[Middleware]:
    """The middleware, outermost first: counting the responses, headers and limits, then who
    is asking and whether the route ``table`` lets them in."""
    policy = AnonymousPolicy.from_config(config)
    return [
        Middleware(ResponseCounter, metrics=hub_metrics),
        Middleware(SecurityHeaders, frame_ancestors=config.frame_ancestors),
        Middleware(
            BodySizeLimit,
            max_body_size=config.max_body_size,
            larger={"/api/contents/": config.worksheet_max_size},
        ),
        *cors_middleware(config),
        Middleware(LoginSessions, token=token, lifetime=config.login_lifetime),
        Middleware(AccessControl, table=table, token=token, policy=policy),
    ]


def hub_routes() -> list[Guarded]:
    """Every route of the hub and who may call it: the Jupyter APIs, the WebSocket bridge,
    pages, static files."""
    routes = [
        *kernels_api.ROUTES,
        *kernelspecs.ROUTES,
        *sessions_api.ROUTES,
        *status_api.ROUTES,
        *workers_api.ROUTES,
        *health_api.ROUTES,
        *metrics.ROUTES,
        *websocket.ROUTES,
        *pages.ROUTES,
        *permalinks.ROUTES,
        *output_frame.ROUTES,
        *contents_api.ROUTES,
        *worksheets_api.ROUTES,
    ]
    if STATIC.is_dir():
        static = Mount("/static", StaticFiles(directory=STATIC), name="static")
        routes.append(Guarded(Access.ANYONE, static))
    return routes
