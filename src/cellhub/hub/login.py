"""Login sessions: how a browser stays logged in without ever holding the token.

Opening a page with ``?token=<the token>`` logs the browser in: the hub records a login and
redirects to the same address without the token, setting the cookie ``cellhub_login`` to a
fresh random value. The cookie is HttpOnly (no script in the page can read it),
SameSite=Strict (browsers leave it off requests other sites start, and off links followed
from them, so a link elsewhere cannot run code as the person), Secure when the request came
over HTTPS, and expires with the login (``login_lifetime``). The page itself carries no
token.

The database holds HMAC-SHA256(token, cookie value), never the value: a copy of the table
gives no cookie, and a hub started with another token finds none of the old logins, so a new
token logs every browser out. Logins live in the deployment's database rather than in one
hub or a data dir, so every hub honours them without a shared secret file, and a login
removed there is gone for all hubs at once.

``LoginSessions`` resolves the cookie into the scope mark ``auth.LOGGED_IN``, which
``auth.is_authenticated`` accepts. Browsers send the cookie with requests that pages of the
same *site* start — a page on another port of the same host included — so the cookie counts
only for requests from the hub's own pages. The browser says where a request comes from
with ``Origin`` or, without one, ``Sec-Fetch-Site`` (``same-origin``, or ``none`` when the
person typed the address):

- a request the browser says another origin started is treated as if it had no cookie;
- a state-changing request (POST, PUT, PATCH, DELETE) and a WebSocket handshake need the
  browser to say it is ours (every current browser does): one from another origin, or one
  that says nothing, is answered 403 (a WebSocket is left without the login).

A request that carries the token (header or query) is judged by the token alone, exactly as
Jupyter clients expect: a page that does not know the token cannot forge it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.hub.auth import LOGGED_IN, is_token, presented_token, same_origin
from cellhub.hub.json_api import error

COOKIE = "cellhub_login"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that never need a login: looking one up for them would only cost a query.
NO_LOGIN = ("/static/", "/output-frame")
#: Paths of API clients, whose ``?token=`` authenticates one request and logs nobody in.
API = ("/api",)


def login_key(token: str, value: str) -> str:
    """The key a login is stored under: the cookie value, hashed with the token as the key."""
    return hmac.new(token.encode(), value.encode(), hashlib.sha256).hexdigest()


def from_own_page(conn: HTTPConnection) -> bool | None:
    """Whether one of the hub's own pages (or the person, typing) started this request.

    None when the browser does not say: no ``Origin`` and no ``Sec-Fetch-Site`` (an older
    browser's same-origin GET, or a client that is no browser).
    """
    if "origin" in conn.headers:
        return same_origin(conn)
    site = conn.headers.get("sec-fetch-site")
    return None if site is None else site in ("same-origin", "none")


def without_token(conn: HTTPConnection) -> str:
    """The request's path and query with the token taken out, for the redirect after login."""
    query = urlencode([(k, v) for k, v in conn.query_params.multi_items() if k != "token"])
    return conn.url.path + (f"?{query}" if query else "")


class LoginSessions:
    """Logs browsers in on ``?token=``, and vouches for the requests their cookie may make."""

    def __init__(self, app: ASGIApp, token: str, lifetime: float) -> None:
        self.app = app
        self.token = token
        self.lifetime = lifetime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(NO_LOGIN):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if self.opens_page_with_token(conn):
            await (await self.log_in(conn))(scope, receive, send)
            return
        if presented_token(conn):
            await self.app(scope, receive, send)
            return
        value = conn.cookies.get(COOKIE)
        if value and await self.is_live(conn, value):
            own = from_own_page(conn)
            acts = scope["type"] == "websocket" or scope["method"] in UNSAFE_METHODS
            if own or (own is None and not acts):
                scope[LOGGED_IN] = True
            elif scope["type"] == "http" and acts:
                refusal = error(
                    403,
                    "Forbidden: the login cookie is accepted only from this hub's own pages "
                    "(send the token in an Authorization header instead)",
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def opens_page_with_token(self, conn: HTTPConnection) -> bool:
        """A page (not the API, whose ``?token=`` is one request's) opened with the token."""
        return (
            conn.scope["type"] == "http"
            and conn.scope["method"] in ("GET", "HEAD")
            and not conn.url.path.startswith(API)
            and is_token(conn.query_params.get("token", ""), self.token)
        )

    async def is_live(self, conn: HTTPConnection, value: str) -> bool:
        logins: LoginSessionRepository = conn.app.state.login_sessions
        return await asyncio.to_thread(logins.is_live, login_key(self.token, value))

    async def log_in(self, conn: HTTPConnection) -> Response:
        """Record a login; answer with its cookie and a redirect to the page without the token."""
        value = secrets.token_urlsafe(32)
        logins: LoginSessionRepository = conn.app.state.login_sessions
        await asyncio.to_thread(logins.add, login_key(self.token, value), self.lifetime)
        response = RedirectResponse(without_token(conn), status_code=303)
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(self.lifetime),
            httponly=True,
            samesite="strict",
            secure=conn.url.scheme in ("https", "wss"),
        )
        return response
