"""The OAuth 2 / OpenID Connect login's routes: from a "Log in with …" button to a logged-in
browser, and the accounts that identities log in as.

``GET /oauth/NAME/login`` redirects to the provider (hub/oauth.py keeps the state);
``GET /oauth/NAME/callback`` finds the account of the identity that came back, or makes
one, and logs the browser in as it (hub/login.py :func:`~cellhub.hub.login.log_in`). It
answers with a page that moves on to ``next`` at once (a meta refresh) rather than with a
redirect: the callback arrives by a navigation the provider's site started, and the login
cookie is SameSite=Strict, so a browser would leave it off a redirect's next request, and
that request would count as another site's (hub/login.py); the page's own navigation is
the hub's.

- an identity (provider, subject) already linked logs in as its account;
- a browser logged in to an account when it started the login links the identity to that
  account (its account id travels in the signed state cookie: the login cookie itself is
  SameSite=Strict, so the provider's redirect back does not carry it);
- otherwise a new account is made, named after what the provider suggests
  (``preferred_username``, GitHub's login, the e-mail's local part), made unique with a
  number. Accounts are never matched by e-mail: a provider that does not check addresses
  would hand over someone else's account.

Whatever goes wrong — a state that is not this browser's (a forged or replayed callback),
the provider's refusal or error, a disabled account — ends at a page that says so (403),
and a warning in the hub's log that names the provider and the reason, never a token or
secret.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata

from authlib.integrations.base_client import OAuthError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cellhub.db.accounts import AccountExists, AccountRecord, AccountRepository
from cellhub.hub.access import Access, Guarded
from cellhub.hub.callers import caller
from cellhub.hub.login import accounts, log_in
from cellhub.hub.oauth import Identity, LoginFailed, local_path, services
from cellhub.hub.templating import TEMPLATES

LOG = logging.getLogger("cellhub.hub.oauth")
#: What an account name may not hold (db/accounts.py NAME), replaced by nothing.
NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._@+-]")
#: Numbered names tried for a new account before giving up (``ada``, ``ada-2``, …).
NAME_TRIES = 50
NEXT = "next"
LINK_TO = "link_to"


def failure_page(reason: str, status: int = 403) -> HTMLResponse:
    """The page a failed login ends at: what went wrong, and a way back."""
    html = TEMPLATES.get_template("login-failed.html").render(reason=reason)
    return HTMLResponse(html, status_code=status)


async def start_login(request: Request) -> Response:
    """Send the browser to the provider, remembering where it returns to and, when it is
    logged in to an account, that the identity is to be linked to that account."""
    name = request.path_params["provider"]
    login = services(request)
    if name not in login.providers:
        return failure_page(f"This cellhub has no login provider called {name!r}.", 404)
    request.session.clear()
    request.session[NEXT] = local_path(request.query_params.get(NEXT))
    who = caller(request)
    if who is not None and who.account is not None:
        request.session[LINK_TO] = who.account.id
    callback = request.url_for("oauth_callback", provider=name)
    try:
        redirect: Response = await login.client(name).authorize_redirect(request, str(callback))
    except Exception as exc:  # noqa: BLE001 - the provider's discovery may fail in any way
        LOG.warning("login with %s could not start: %s", name, type(exc).__name__)
        return failure_page(f"{login.providers[name].label} cannot be reached now.", 502)
    return redirect


async def callback(request: Request) -> Response:
    name = request.path_params["provider"]
    login = services(request)
    provider = login.providers.get(name)
    if provider is None:
        return failure_page(f"This cellhub has no login provider called {name!r}.", 404)
    try:
        token = await login.client(name).authorize_access_token(request)
        identity = await login.identity(provider, token)
    except OAuthError as exc:  # the provider's answer, or a state that is not this browser's
        LOG.warning("login with %s failed: %r", name, exc.error)
        return failure_page(refusal_reason(exc, provider.label))
    except LoginFailed as exc:
        LOG.warning("login with %s failed: %s", name, exc)
        return failure_page(str(exc))
    except Exception as exc:  # noqa: BLE001 - a token that does not verify, a network error
        LOG.warning("login with %s failed: %s", name, type(exc).__name__)
        return failure_page(f"The login with {provider.label} could not be completed.", 502)
    next_path = local_path(request.session.get(NEXT))
    link_to = request.session.get(LINK_TO)
    request.session.clear()
    account = await asyncio.to_thread(account_for, accounts(request), identity, link_to)
    if account.disabled:
        LOG.warning("login with %s refused: account %s is disabled", name, account.name)
        return failure_page(f"The account {account.name} is disabled; ask an administrator.")
    landing = TEMPLATES.get_template("login-done.html").render(next=next_path, name=account.name)
    return await log_in(request, HTMLResponse(landing), account.id)


def refusal_reason(exc: OAuthError, label: str) -> str:
    if exc.error == "mismatching_state":
        return (
            "This login was not started in this browser, or it took too long. "
            "Start it again from the login page."
        )
    if exc.error == "access_denied":
        return f"{label} did not let you log in (you may have denied it)."
    return f"{label} refused the login ({exc.error})."


def account_for(repo: AccountRepository, identity: Identity, link_to: object) -> AccountRecord:
    """The account ``identity`` logs in as: linked already, linked now to ``link_to`` (the
    account the browser was logged in to), or new."""
    found = repo.by_identity(identity.provider, identity.subject)
    if found is not None:
        return found
    target = repo.by_id(link_to) if isinstance(link_to, int) else None
    if target is None:
        target = new_account(repo, identity)
    try:
        repo.link_identity(identity.provider, identity.subject, target.id)
    except AccountExists:  # another hub linked it meanwhile (a double click): use that one
        linked = repo.by_identity(identity.provider, identity.subject)
        if linked is not None:
            return linked
        raise
    LOG.info("%s identity linked to account %s", identity.provider, target.name)
    return target


def new_account(repo: AccountRepository, identity: Identity) -> AccountRecord:
    base = account_name(identity)
    for number in range(1, NAME_TRIES + 1):
        name = base if number == 1 else f"{base[:60]}-{number}"
        try:
            return repo.create(name, display_name=identity.display_name, email=identity.email)
        except AccountExists:
            continue
    raise AccountExists(f"no free account name like {base!r}")


def account_name(identity: Identity) -> str:
    """A valid account name from what the provider suggests (accents dropped: José is
    Jose), else ``user``."""
    for suggestion in (identity.username, identity.email.partition("@")[0], identity.display_name):
        ascii_only = unicodedata.normalize("NFKD", suggestion).encode("ascii", "ignore").decode()
        name = NOT_IN_NAME.sub("", ascii_only.strip().replace(" ", "."))
        name = name.strip("._@+-")[:64]
        if name:
            return name
    return "user"


ROUTES = [
    Guarded(Access.ANYONE, Route("/oauth/{provider}/login", start_login, methods=["GET"])),
    Guarded(
        Access.ANYONE,
        Route("/oauth/{provider}/callback", callback, methods=["GET"], name="oauth_callback"),
    ),
]
