"""Who is asking: the token, as Jupyter Server takes it, or a login session.

A request is authenticated by ``Authorization: token <t>`` (or ``Bearer <t>``), by
``?token=<t>`` — both exactly as Jupyter clients send them — or by the login cookie of a
browser that opened the UI with the token once (hub/login.py resolves the cookie and marks
the scope with ``LOGGED_IN``, only for requests from the hub's own pages). Where a route
lets anonymous clients in, the access check (hub/access.py) marks the requests it admits
without either with ``ADMITTED_ANONYMOUS``.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

#: Scope key set on a request admitted as an anonymous client's (see hub/access.py).
ADMITTED_ANONYMOUS = "cellhub.anonymous"
#: Scope key set on a request a live login session vouches for (see hub/login.py).
LOGGED_IN = "cellhub.login"


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
    """The request presented the token or comes with a live login session."""
    return bool(conn.scope.get(LOGGED_IN)) or is_token(presented_token(conn), token)
