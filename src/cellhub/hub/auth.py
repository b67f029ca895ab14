"""Who is asking: a token, as Jupyter Server takes it, or a login session.

A request is authenticated by ``Authorization: token <t>`` (or ``Bearer <t>``), by
``?token=<t>`` — both exactly as Jupyter clients send them, with the deployment token or a
personal API token — or by the login cookie of a browser that logged in (hub/login.py
resolves tokens and cookie into the scope's caller, hub/callers.py; the cookie only for
requests from the hub's own pages). Where a route lets anonymous clients in, the access
check (hub/access.py) marks the requests it admits without either with
``ADMITTED_ANONYMOUS``.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from cellhub.hub.callers import CALLER

#: Scope key set on a request admitted as an anonymous client's (see hub/access.py).
ADMITTED_ANONYMOUS = "cellhub.anonymous"


def presented_token(conn: HTTPConnection) -> str:
    """The token the client presented in a header or the query ("" when none)."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return conn.query_params.get("token", "")


def is_token(presented: str, token: str) -> bool:
    """Whether a presented value is the token, compared in constant time."""
    return bool(presented) and hmac.compare_digest(presented.encode(), token.encode())


def client_address(conn: HTTPConnection) -> str:
    """Who is asking, for per-client limits."""
    return conn.client.host if conn.client else "unknown"


def same_origin(conn: HTTPConnection) -> bool:
    """No ``Origin`` (not a browser), or the hub's own."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == conn.headers.get("host", "")


def is_anonymous(conn: HTTPConnection) -> bool:
    return bool(conn.scope.get(ADMITTED_ANONYMOUS))


def is_authenticated(conn: HTTPConnection, token: str) -> bool:
    """The request presented the deployment token, or hub/login.py found its caller (an API
    token's, a live login's)."""
    return conn.scope.get(CALLER) is not None or is_token(presented_token(conn), token)
