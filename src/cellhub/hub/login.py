"""Login sessions: how a browser stays logged in without ever holding a secret it could leak.

A browser logs in by opening a page with ``?token=<the deployment token>`` (the bootstrap
administrator's login: the hub redirects to the same address without the token), by the
login form (hub/login_form.py: an account's name and password), or through an identity
provider (the OAuth/OIDC login). Each ends in :func:`log_in`, which records a login for the
account and sets the cookie ``cellhub_login`` to a fresh random value — never the value the
browser had before, whose login it ends (so that a cookie planted before the login is
worth nothing after it: no session fixation). The cookie is HttpOnly (no script in the page
can read it), SameSite=Strict (browsers leave it off requests other sites start, and off
links followed from them, so a link elsewhere cannot run code as the person), Secure when
the request came over HTTPS, and expires with the login (``login_lifetime``); a login also
ends after ``login_idle_timeout`` without a request, and at :func:`log_out`.

The database holds HMAC-SHA256(token, cookie value), never the value: a copy of the table
gives no cookie, and a hub started with another token finds none of the old logins, so a new
token logs every browser out. Logins live in the deployment's database rather than in one
hub or a data dir, so every hub honours them without a shared secret file, and a login
removed there is gone for all hubs at once.

``LoginSessions`` says who is asking: it resolves the deployment token, a personal API
token (``Authorization: token …``, hub/callers.py) or the cookie into the scope's caller,
which the access check (hub/access.py) then holds to the route's level. Browsers send the
cookie with requests that pages of the same *site* start — a page on another port of the
same host included — so the cookie counts only for requests from the hub's own pages. The
browser says where a request comes from with ``Origin`` or, without one, ``Sec-Fetch-Site``
(``same-origin``, or ``none`` when the person typed the address):

- a request the browser says another origin started is treated as if it had no cookie;
- a state-changing request (POST, PUT, PATCH, DELETE) and a WebSocket handshake need the
  browser to say it is ours (every current browser does): one from another origin, or one
  that says nothing, is answered 403 (a WebSocket is left without the login).

A request that carries a token (header or query) is judged by the token alone, exactly as
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

from cellhub.db.accounts import AccountRepository
from cellhub.db.api_tokens import ApiTokenRepository, looks_like_api_token
from cellhub.db.login_sessions import Login, LoginSessionRepository
from cellhub.hub.auth import client_address, is_token, presented_token, same_origin
from cellhub.hub.callers import CALLER, Caller
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

    None when the browser does not say: no ``Origin`` (or ``Origin: null``, which the pages'
    ``no-referrer`` policy makes browsers send with a form post, even from the hub itself)
    and no ``Sec-Fetch-Site`` (an older browser's same-origin GET, or a client that is no
    browser).
    """
    if conn.headers.get("origin", "null") != "null":
        return same_origin(conn)
    site = conn.headers.get("sec-fetch-site")
    return None if site is None else site in ("same-origin", "none")


def without_token(conn: HTTPConnection) -> str:
    """The request's path and query with the token taken out, for the redirect after login."""
    query = urlencode([(k, v) for k, v in conn.query_params.multi_items() if k != "token"])
    return conn.url.path + (f"?{query}" if query else "")


class LoginSessions:
    """Logs browsers in on ``?token=``, and says who is asking: the token's or the login
    cookie's caller (for the cookie, only on requests it may make)."""

    def __init__(self, app: ASGIApp, token: str, lifetime: float, idle_timeout: float = 0) -> None:
        self.app = app
        self.token = token
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(NO_LOGIN):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if self.opens_page_with_token(conn):
            redirect = RedirectResponse(without_token(conn), status_code=303)
            await (await log_in(conn, redirect, None))(scope, receive, send)
            return
        presented = presented_token(conn)
        found = await (
            self.token_caller(conn, presented) if presented else self.cookie_caller(conn)
        )
        if found is not None and not presented:
            own = from_own_page(conn)
            acts = scope["type"] == "websocket" or scope["method"] in UNSAFE_METHODS
            if not (own or (own is None and not acts)):
                found = None
                if scope["type"] == "http" and acts:
                    await COOKIE_REFUSAL(scope, receive, send)
                    return
        if found is not None:
            scope[CALLER] = found
        await self.app(scope, receive, send)

    def opens_page_with_token(self, conn: HTTPConnection) -> bool:
        """A page (not the API, whose ``?token=`` is one request's) opened with the token."""
        return (
            conn.scope["type"] == "http"
            and conn.scope["method"] in ("GET", "HEAD")
            and not conn.url.path.startswith(API)
            and is_token(conn.query_params.get("token", ""), self.token)
        )

    async def token_caller(self, conn: HTTPConnection, presented: str) -> Caller | None:
        """The deployment token's bootstrap admin, or a live API token's account."""
        if is_token(presented, self.token):
            return Caller.bootstrap(client_address(conn))
        if not looks_like_api_token(presented):
            return None
        tokens: ApiTokenRepository = conn.app.state.api_tokens
        record = await asyncio.to_thread(tokens.resolve, presented)
        if record is None:
            return None
        account = await asyncio.to_thread(accounts(conn).by_id, record.account_id)
        if account is None or account.disabled:
            return None
        return Caller.of_account(account, frozenset(record.scopes))

    async def cookie_caller(self, conn: HTTPConnection) -> Caller | None:
        """The caller of the browser's live login, if it has one."""
        value = conn.cookies.get(COOKIE)
        if not value:
            return None
        logins: LoginSessionRepository = conn.app.state.login_sessions
        key = login_key(self.token, value)
        login: Login | None = await asyncio.to_thread(logins.live, key, self.idle_timeout)
        if login is None:
            return None
        if login.account_id is None:
            return Caller.bootstrap(client_address(conn))
        account = await asyncio.to_thread(accounts(conn).by_id, login.account_id)
        if account is None or account.disabled:
            return None
        return Caller.of_account(account)


COOKIE_REFUSAL = error(
    403,
    "Forbidden: the login cookie is accepted only from this hub's own pages "
    "(send the token in an Authorization header instead)",
)


def accounts(conn: HTTPConnection) -> AccountRepository:
    found: AccountRepository = conn.app.state.accounts
    return found


async def log_in(conn: HTTPConnection, response: Response, account_id: int | None) -> Response:
    """Log the browser that sent ``conn`` in as the account (None: the deployment token's
    bootstrap administrator): end the login its cookie had, record a new one, and set its
    cookie on ``response`` (a redirect, usually), which is returned.

    The one way a browser is logged in: the token page, the login form and the OAuth/OIDC
    callback all end here.
    """
    state = conn.app.state
    token: str = state.token
    lifetime: float = state.config.login_lifetime
    logins: LoginSessionRepository = state.login_sessions
    old = conn.cookies.get(COOKIE)
    if old:
        await asyncio.to_thread(logins.remove, login_key(token, old))
    value = secrets.token_urlsafe(32)
    await asyncio.to_thread(logins.add, login_key(token, value), lifetime, account_id)
    if account_id is not None:
        await asyncio.to_thread(accounts(conn).logged_in, account_id)
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(lifetime),
        httponly=True,
        samesite="strict",
        secure=conn.url.scheme in ("https", "wss"),
    )
    return response


async def log_out(conn: HTTPConnection, response: Response) -> Response:
    """End the browser's login (on every hub) and clear its cookie on ``response``."""
    value = conn.cookies.get(COOKIE)
    if value:
        logins: LoginSessionRepository = conn.app.state.login_sessions
        await asyncio.to_thread(logins.remove, login_key(conn.app.state.token, value))
    response.delete_cookie(
        COOKIE, httponly=True, samesite="strict", secure=conn.url.scheme in ("https", "wss")
    )
    return response
