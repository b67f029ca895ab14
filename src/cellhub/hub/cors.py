"""Cross-origin use of the hub: which other sites' pages may call the API and embed cells.

Browsers enforce CORS for HTTP requests only; a WebSocket handshake carries an ``Origin``
but no preflight, so the hub checks that header itself (``origin_allowed``). Nothing is
allowed cross-origin unless the deployment lists the origin in ``cors_origins``; ``*``
allows every origin, and only when configured so.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection

from cellhub.config import Config
from cellhub.hub.auth import same_origin

#: Seconds a browser may cache a preflight answer.
PREFLIGHT_MAX_AGE = 600


def cors_middleware(config: Config) -> list[Middleware]:
    """Starlette's CORS middleware for the configured origins (none: no middleware at all).

    Credentials are never allowed cross-origin: embedded cells authenticate with a token
    or run as anonymous clients, never with the login cookie.
    """
    if not config.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE,
        )
    ]


def origin_allowed(conn: HTTPConnection, origins: list[str]) -> bool:
    """No Origin header (not a browser), our own origin, or a configured one."""
    if same_origin(conn) or "*" in origins:
        return True
    return conn.headers.get("origin", "").rstrip("/") in {o.rstrip("/") for o in origins}
