"""The login form (``GET|POST /login``) and logging out (``POST /logout``).

A person logs in with an account's name and password; the hub checks the password's
argon2id hash (hub/passwords.py) and logs the browser in with :func:`hub.login.log_in`,
then sends it on to ``next`` — a path on this hub only, so the form cannot be made to
redirect anywhere else.

Guessing is slowed twice: each account name and each client address may try
``login_attempts`` times per 15 minutes (per hub) before the form answers 429. A name
that is no account's, a disabled account and a wrong password all get the same answer, in
about the same time (a dummy hash is checked), so the form does not tell which names
exist. Posting the form (and logging out) needs the browser to say it comes from the hub's
own page (:func:`posted_here`), so that another site cannot log a visitor into an account
of its choosing, or out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from cellhub.db.accounts import AccountRepository
from cellhub.hub.access import Access, Guarded
from cellhub.hub.auth import client_address
from cellhub.hub.login import from_own_page, log_in, log_out
from cellhub.hub.oauth import services
from cellhub.hub.passwords import verify
from cellhub.hub.ratelimit import ClientBudget
from cellhub.hub.templating import TEMPLATES
from cellhub.login_providers import LoginProvider

#: Seconds over which ``login_attempts`` failures are allowed.
WINDOW = 15 * 60.0
WRONG = "Wrong name or password."


def login_budget(attempts: int) -> ClientBudget:
    """A budget of login attempts: ``attempts`` per :data:`WINDOW`, for one key (an account
    name, a client address)."""
    return ClientBudget(attempts / WINDOW, attempts)


def posted_here(conn: HTTPConnection) -> bool:
    """Whether the browser says this form post comes from one of the hub's own pages; a
    client that does not say (no browser) gets no benefit of the doubt: it has API tokens."""
    return from_own_page(conn) is True


def local_path(candidate: str) -> str:
    """``candidate`` if it is a path on this hub (not ``//elsewhere``), else ``/``."""
    ok = candidate.startswith("/") and not candidate.startswith(("//", "/\\"))
    return candidate if ok else "/"


def form_page(
    next_path: str,
    name: str = "",
    message: str = "",
    status: int = 200,
    providers: Iterable[LoginProvider] = (),
) -> Response:
    """The form, and a "Log in with …" button for each identity provider (hub/oauth.py)."""
    html = TEMPLATES.get_template("login.html").render(
        next=local_path(next_path),
        name=name,
        message=message,
        providers=list(providers),
    )
    return HTMLResponse(html, status_code=status)


async def login_page(request: Request) -> Response:
    providers = services(request).providers.values()
    return form_page(request.query_params.get("next", "/"), providers=providers)


async def submit(request: Request) -> Response:
    """Check the name and password within the budgets; log in, or show the form again."""
    if not posted_here(request):
        return form_page("/", message="Log in from this cellhub's own page.", status=403)
    fields = dict(parse_qsl((await request.body()).decode(errors="replace")))
    name, password = fields.get("name", ""), fields.get("password", "")
    next_path = fields.get("next", "/")
    budgets: tuple[ClientBudget, ClientBudget] = request.app.state.login_failures
    by_name, by_address = budgets
    if by_name.take(name) or by_address.take(client_address(request)):
        return form_page(next_path, name, "Too many attempts; try again later.", 429)
    accounts: AccountRepository = request.app.state.accounts
    account, stored = await asyncio.to_thread(accounts.password_hash, name)
    good = await asyncio.to_thread(verify, stored, password)
    if account is None or account.disabled or not good:
        return form_page(next_path, name, WRONG, 403)
    redirect = RedirectResponse(local_path(next_path), status_code=303)
    return await log_in(request, redirect, account.id)


async def logout(request: Request) -> Response:
    if not posted_here(request):
        return form_page("/", message="Log out from this cellhub's own page.", status=403)
    return await log_out(request, RedirectResponse("/login", status_code=303))


ROUTES = [
    Guarded(Access.ANYONE, Route("/login", login_page, methods=["GET"])),
    Guarded(Access.ANYONE, Route("/login", submit, methods=["POST"])),
    Guarded(Access.ANYONE, Route("/logout", logout, methods=["POST"])),
]
