"""Who may call each route: declared beside the route, enforced here and nowhere else.

Every route of the hub is declared with the access it needs (:class:`Guarded`); the app's
route table is the list of them (hub/app.py), and :class:`AccessControl` holds each
request to its route's level before any handler runs:

- ``ANYONE``: no check — the API root and its description, static files, the kernel
  spec logos, the output frame: they hold nothing about the deployment.
- ``ANONYMOUS``: anyone, when the deployment allows anonymous use (``allow_anonymous``);
  otherwise as ``USER``. A call to the API or a WebSocket is admitted anonymously only from
  our own origin or a configured one (``cors_origins``), so that another site cannot spend
  a visitor's kernels; a page is a navigation, which any site may start. An admitted
  request is marked (``auth.ADMITTED_ANONYMOUS``): what it may then touch — its own kernels
  and sessions — the handlers decide with hub/anonymous.py.
- ``USER``: a caller (hub/callers.py): the deployment token, an account's login or an
  account's API token (hub/login.py).
- ``ADMIN``: what concerns the whole deployment: an administrator's account, or the
  deployment token (the bootstrap administrator); any other caller gets 403.

An API token reaches only the routes of its scopes: a route's :attr:`Guarded.scope`
(``kernels`` unless it says otherwise; ``admin`` for ``ADMIN`` routes).

A request with a method its path does not serve needs what the path's route needs (the
router then answers 405, as before); a request no route takes (an unknown path) needs
``USER`` under ``/api``, so that only a token holder learns what is not there, and nothing
elsewhere; ``/api/``, which the router redirects to the public ``/api``, needs nothing.

Refusals keep the shape each kind of client expects: 403 and Jupyter Server's JSON error for
the API, 403 and the refusal page for a page (it offers to log in and come back to the same
link, its query kept), and for a WebSocket a close (1008) before the handshake is accepted,
which the client sees as 403. ``AccessControl`` answers nothing but refusals.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from cellhub.hub.anonymous import AnonymousPolicy
from cellhub.hub.auth import ADMITTED_ANONYMOUS, is_authenticated
from cellhub.hub.callers import Caller, caller
from cellhub.hub.cors import origin_allowed
from cellhub.hub.json_api import error
from cellhub.hub.templating import TEMPLATES


class Access(enum.Enum):
    """Who may call a route, from the most open to the most closed."""

    ANYONE = "anyone"
    ANONYMOUS = "anonymous"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class Guarded:
    """A route and the access it needs: the hub's route table is a list of these."""

    access: Access
    route: BaseRoute
    #: The API token scope the route needs ("" : ``admin`` for ADMIN routes, else kernels).
    scope: str = ""

    @property
    def token_scope(self) -> str:
        return self.scope or ("admin" if self.access is Access.ADMIN else "kernels")


def required(table: Sequence[Guarded], scope: Scope) -> Guarded:
    """The route entry whose access this request needs (see the module's docstring for a
    request no route takes)."""
    matches = [(guarded.route.matches(scope)[0], guarded) for guarded in table]
    for wanted in (Match.FULL, Match.PARTIAL):  # PARTIAL: the path, not the method (405)
        for match, guarded in matches:
            if match is wanted:
                return guarded
    path: str = scope["path"]
    access = Access.USER if path.startswith("/api") and path != "/api/" else Access.ANYONE
    return Guarded(access, NO_ROUTE)


#: What a request no route takes stands for in :func:`required`.
NO_ROUTE = Route("/", lambda request: None)


def admits(guarded: Guarded, found: Caller | None) -> bool:
    """Whether an authenticated caller may call the route: its level, its token's scope."""
    if found is None:
        return False
    if guarded.access is Access.ADMIN and not found.is_admin:
        return False
    return found.may(guarded.token_scope)


def is_api_call(scope: Scope) -> bool:
    """The API or a WebSocket, as opposed to a page a browser navigates to."""
    return scope["type"] == "websocket" or str(scope["path"]).startswith("/api")


def refusal_page(conn: HTTPConnection) -> HTMLResponse:
    """403 and a page that offers to log in and come back to this very address."""
    kept = [(name, value) for name, value in conn.query_params.multi_items() if name != "token"]
    back = conn.url.path + (f"?{urlencode(kept)}" if kept else "")
    html = TEMPLATES.get_template("refusal.html").render(
        kept=kept,
        wrong_token="token" in conn.query_params,
        login=f"/login?{urlencode({'next': back})}",
    )
    return HTMLResponse(html, status_code=403)


def refusal(conn: HTTPConnection) -> ASGIApp:
    if conn.scope["type"] == "websocket":
        return WebSocketClose(code=1008)
    if is_api_call(conn.scope):
        if caller(conn) is not None:
            return error(403, "Forbidden: this account or token may not do this")
        return error(403, "Forbidden: missing or wrong token")
    return refusal_page(conn)


class AccessControl:
    """Lets a request through to its route when the caller has the access the route
    declares (marking anonymous callers), and refuses it otherwise."""

    def __init__(
        self, app: ASGIApp, table: Sequence[Guarded], token: str, policy: AnonymousPolicy
    ) -> None:
        self.app = app
        self.table = table
        self.token = token
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            conn = HTTPConnection(scope)
            guarded = required(self.table, scope)
            if guarded.access is Access.ANONYMOUS and self.admits_anonymously(conn):
                scope[ADMITTED_ANONYMOUS] = True
            elif guarded.access is not Access.ANYONE and not admits(guarded, caller(conn)):
                await refusal(conn)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def admits_anonymously(self, conn: HTTPConnection) -> bool:
        """Whether this request, without the token or a login, may come in as anonymous."""
        return (
            self.policy.allowed
            and not is_authenticated(conn, self.token)
            and (not is_api_call(conn.scope) or origin_allowed(conn, self.policy.origins))
        )
