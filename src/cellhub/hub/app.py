"""The hub: an ASGI application serving the UI, the kernels API and the WebSocket bridge.

Its route table (:func:`hub_routes`) is every route with the access it needs
(hub/access.py); the middleware around it sets headers and limits and says who is asking,
and refuses what may not pass, but answers nothing else (but the login's redirect that
turns a page's ``?token=`` into a login cookie, hub/login.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware

from cellhub.config import Config
from cellhub.db.accounts import AccountRepository
from cellhub.db.api_tokens import ApiTokenRepository
from cellhub.db.cloud_remotes import CloudRemoteRepository
from cellhub.db.database import make_engine, upgrade
from cellhub.db.file_bundles import FileBundleRepository
from cellhub.db.invitations import InvitationRepository
from cellhub.db.jupyter_sessions import JupyterSessionRepository
from cellhub.db.kernels import KernelRepository
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.db.permalinks import PermalinkRepository
from cellhub.db.worker_drains import WorkerDrainRepository
from cellhub.db.worksheets import WorksheetRepository
from cellhub.deploy.certificates import credentials, hub_ssl_context
from cellhub.hub import (
    accounts_api,
    admin,
    cloud_api,
    contents_api,
    files_download,
    health_api,
    json_api,
    kernels_api,
    kernelspecs,
    login_form,
    metrics,
    oauth_login,
    output_frame,
    pages,
    permalinks,
    sessions_api,
    signup,
    status_api,
    websocket,
    workers_api,
    worksheets_api,
)
from cellhub.hub.access import Access, AccessControl, Guarded
from cellhub.hub.anonymous import AnonymousPolicy
from cellhub.hub.channels import Traffic
from cellhub.hub.cors import cors_middleware
from cellhub.hub.drains import AdminDrains
from cellhub.hub.home_sync import HomeSync
from cellhub.hub.kernels import KernelService, in_background
from cellhub.hub.limits import BodySizeLimit
from cellhub.hub.login import LoginSessions
from cellhub.hub.metrics import HubMetrics, ResponseCounter
from cellhub.hub.oauth import LoginServices, state_middleware
from cellhub.hub.ratelimit import ClientBudget
from cellhub.hub.recent_errors import RecentErrors
from cellhub.hub.roster import WorkerRoster
from cellhub.hub.security_headers import SecurityHeaders
from cellhub.hub.static_files import STATIC_DIR, static_mount
from cellhub.hub.workers import WorkerLink
from cellhub.login_providers import parse_providers
from cellhub.storage.user_files import UserFiles


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
        try:
            async with watching(app, engine, service, roster):
                yield
        finally:
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
    init_accounts_state(app, config)
    return app


@contextlib.asynccontextmanager
async def watching(
    app: Starlette, engine: Engine, service: KernelService, roster: WorkerRoster | None
) -> AsyncIterator[None]:
    """What the hub watches while it serves: the workers file, the workers administrators
    drained (hub/drains.py), and its own warnings and errors (hub/recent_errors.py)."""
    app.state.drains = AdminDrains(WorkerDrainRepository(engine), service.placement)
    if roster is not None:
        await roster.start()
    await app.state.drains.start()
    app.state.recent_errors.install()
    interval = app.state.config.files_save_interval
    saving = asyncio.create_task(app.state.home_sync.save_forever(service, interval))
    try:
        yield
    finally:
        saving.cancel()
        app.state.recent_errors.uninstall()
        await app.state.drains.stop()
        if roster is not None:
            await roster.stop()


def init_accounts_state(app: Starlette, config: Config) -> None:
    """What the login and admin routes need before the hub starts (and in tests without a
    lifespan): the identity providers' clients, the ring of recent errors."""
    app.state.login_services = LoginServices(parse_providers(config.login_providers))
    app.state.recent_errors = RecentErrors()


def init_repositories(app: Starlette, engine: Engine) -> None:
    """What the routes keep in the database, and the probe of it that health checks use."""
    app.state.jupyter_sessions = JupyterSessionRepository(engine)
    app.state.permalinks = PermalinkRepository(engine)
    app.state.login_sessions = LoginSessionRepository(engine)
    app.state.accounts = AccountRepository(engine)
    app.state.api_tokens = ApiTokenRepository(engine)
    app.state.invitations = InvitationRepository(engine)
    app.state.database_probe = health_api.DatabaseProbe(engine)
    config: Config = app.state.config
    app.state.user_files = UserFiles(
        FileBundleRepository(engine), config.data_path / "user-files", config.user_files_quota
    )
    app.state.home_sync = HomeSync(app.state.user_files)
    cloud_work = config.data_path / "cloud"
    cloud_work.mkdir(parents=True, exist_ok=True)
    app.state.cloud = cloud_api.CloudState(CloudRemoteRepository(engine), cloud_work)


def init_budgets(app: Starlette, config: Config) -> None:
    """Each client's budgets: kernel starts, WebSocket messages, permalinks."""
    app.state.kernel_starts = ClientBudget(
        config.client_kernel_starts / 60, config.client_kernel_starts
    )
    app.state.messages = ClientBudget(config.client_message_rate, 2 * config.client_message_rate)
    app.state.permalink_creations = ClientBudget(config.permalink_rate / 60, config.permalink_rate)
    init_login_budgets(app, config)


def init_login_budgets(app: Starlette, config: Config) -> None:
    """Login attempts per account name and per client address (hub/login_form.py)."""
    app.state.login_failures = (
        login_form.login_budget(config.login_attempts),
        login_form.login_budget(config.login_attempts),
    )


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
        Middleware(
            LoginSessions,
            token=token,
            lifetime=config.login_lifetime,
            idle_timeout=config.login_idle_timeout,
        ),
        *state_middleware(token, parse_providers(config.login_providers)),
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
        *oauth_login.ROUTES,
        *accounts_api.ROUTES,
        *login_form.ROUTES,
        *admin.ROUTES,
        *signup.ROUTES,
        *contents_api.ROUTES,
        *files_download.ROUTES,
        *cloud_api.ROUTES,
        *worksheets_api.ROUTES,
    ]
    if STATIC_DIR.is_dir():
        routes.append(Guarded(Access.ANYONE, static_mount()))
    return routes
