"""Token authentication, as Jupyter Server does it.

A request is authenticated by ``Authorization: token <t>`` (or ``Bearer <t>``), by
``?token=<t>``, or by the login cookie the UI receives when it is opened with the
token. Cookie-authenticated WebSockets must come from the hub's own origin, so a
third-party page cannot ride on a user's cookie.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

COOKIE = "cellhub_token"
#: Scope key set on a request the anonymous policy admitted (see hub/anonymous.py).
ADMITTED_ANONYMOUS = "cellhub.anonymous"


def presented_token(conn: HTTPConnection) -> tuple[str, bool]:
    """Return the token the client presented and whether it came from the cookie."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip(), False
    if "token" in conn.query_params:
        return conn.query_params["token"], False
    return conn.cookies.get(COOKIE, ""), True


def client_address(conn: HTTPConnection) -> str:
    """Who is asking, for per-client limits."""
    return conn.client.host if conn.client else "unknown"


def same_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == conn.headers.get("host", "")


def is_anonymous(conn: HTTPConnection) -> bool:
    return bool(conn.scope.get(ADMITTED_ANONYMOUS))


def is_authenticated(conn: HTTPConnection, token: str) -> bool:
    """The request presented the token, or the anonymous policy admitted it."""
    if is_anonymous(conn):
        return True
    presented, from_cookie = presented_token(conn)
    if not presented or not hmac.compare_digest(presented.encode(), token.encode()):
        return False
    return not from_cookie or conn.scope["type"] != "websocket" or same_origin(conn)
