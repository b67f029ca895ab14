"""Sign-up (``GET|POST /signup``), as the deployment's ``signup`` setting allows it.

- ``open``: anyone makes an account of role user;
- ``invitation``: whoever opens an invitation link an administrator made
  (``POST /api/users/invitations``: ``/signup?invite=CODE``) makes one account, of the role
  the invitation gives, once;
- ``admin`` (the default): nobody here; administrators make accounts (``cellhub users
  add``, ``POST /api/users``).

The new account is logged in at once (:func:`hub.login.log_in`). Posting the form needs the
browser to say it comes from the hub's own page (hub/login_form.py), and counts against the
client address's login attempts, so the page
cannot be used to probe names or flood the accounts table faster than the login form.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from cellhub.db.accounts import AccountExists, AccountRepository
from cellhub.db.invitations import InvitationRepository
from cellhub.hub.access import Access, Guarded
from cellhub.hub.auth import client_address
from cellhub.hub.login import log_in
from cellhub.hub.login_form import posted_here
from cellhub.hub.passwords import MIN_LENGTH, hash_password
from cellhub.hub.ratelimit import ClientBudget
from cellhub.hub.templating import TEMPLATES


def signup_form(
    invite: str, open_: bool, message: str = "", name: str = "", status: int = 200
) -> Response:
    html = TEMPLATES.get_template("signup.html").render(
        invite=invite,
        open=open_,
        message=message,
        name=name,
        min_length=MIN_LENGTH,
    )
    return HTMLResponse(html, status_code=status)


async def role_for(request: Request, invite: str) -> str | None:
    """The role this visitor may sign up as under the deployment's policy; None: none."""
    policy: str = request.app.state.config.signup
    if policy == "open":
        return "user"
    if policy == "invitation" and invite:
        invitations: InvitationRepository = request.app.state.invitations
        return await asyncio.to_thread(invitations.role_of, invite)
    return None


async def signup_page(request: Request) -> Response:
    invite = request.query_params.get("invite", "")
    if await role_for(request, invite) is not None:
        return signup_form(invite, True)
    closed = "This invitation is used or expired." if invite else "Sign-up is closed here."
    return signup_form(invite, False, closed, status=403)


async def submit(request: Request) -> Response:
    """Check the policy, the name and the password; make the account and log it in."""
    if not posted_here(request):
        return signup_form("", False, "Sign up from this cellhub's own page.", status=403)
    fields = dict(parse_qsl((await request.body()).decode(errors="replace")))
    invite, name, password = (fields.get(key, "") for key in ("invite", "name", "password"))
    budgets: tuple[ClientBudget, ClientBudget] = request.app.state.login_failures
    if budgets[1].take(client_address(request)):
        return signup_form(invite, True, "Too many attempts; try again later.", name, 429)
    role = await role_for(request, invite)
    if role is None:
        return signup_form(invite, False, "Sign-up is closed here.", status=403)
    if len(password) < MIN_LENGTH:
        short = f"The password needs at least {MIN_LENGTH} characters."
        return signup_form(invite, True, short, name, 400)
    accounts: AccountRepository = request.app.state.accounts
    secret = await asyncio.to_thread(hash_password, password)
    try:
        made = await asyncio.to_thread(accounts.create, name, password_hash=secret, role=role)
    except AccountExists:
        return signup_form(invite, True, "That name is taken.", name, 409)
    except ValueError as exc:
        return signup_form(invite, True, str(exc), name, 400)
    if request.app.state.config.signup == "invitation":
        invitations: InvitationRepository = request.app.state.invitations
        if not await asyncio.to_thread(invitations.claim, invite, made.id):
            await asyncio.to_thread(accounts.remove, made.id)
            return signup_form(invite, False, "This invitation is used or expired.", status=403)
    return await log_in(request, RedirectResponse("/", status_code=303), made.id)


ROUTES = [
    Guarded(Access.ANYONE, Route("/signup", signup_page, methods=["GET"])),
    Guarded(Access.ANYONE, Route("/signup", submit, methods=["POST"])),
]
