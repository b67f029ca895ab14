"""Logging in with an OAuth 2 / OpenID Connect provider: the redirect, the callback, and who
came back.

``GET /oauth/NAME/login?next=/path`` sends the browser to provider NAME (the
``login_providers`` setting, cellhub/login_providers.py) with a fresh ``state``, an OpenID
nonce and a PKCE challenge; ``GET /oauth/NAME/callback`` takes the provider's answer, checks
the state against the one this browser was sent with, trades the code for tokens (checking
the ID token's signature, issuer, audience and nonce for OpenID Connect), and reads who
logged in: an :class:`Identity` (provider, subject, and the name and e-mail the provider
gives). hub/oauth_login.py makes that an account's login.

Between the two requests the state, nonce and PKCE verifier live in a cookie
(``cellhub_oauth``, path ``/oauth/``, SameSite=Lax so that the provider's redirect back
carries it, ten minutes) signed with a key derived from the deployment's token: every hub
holds the token, so a callback may reach another hub than the login started on, and no
new secret or table is needed. The cookie is Starlette's signed session (authlib's Starlette
client keeps its state there); it is not encrypted, and holds nothing that logs anyone in.
``next`` is kept only when it is a path of this hub (:func:`local_path`), so a login link
cannot send anyone elsewhere afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from cellhub.login_providers import LoginProvider

#: The cookie that carries a login's state from the redirect to the callback.
STATE_COOKIE = "cellhub_oauth"
#: Seconds a browser has to come back from the provider.
STATE_LIFETIME = 600
#: Where a login returns to when it is not told where, or told somewhere else than here.
HOME = "/"


@dataclass(frozen=True)
class Identity:
    """Who a provider says logged in: ``subject`` is the provider's stable id for them;
    ``username`` (a login name the provider suggests), ``email`` and ``display_name`` may be
    empty."""

    provider: str
    subject: str
    username: str = ""
    email: str = ""
    display_name: str = ""


class LoginFailed(Exception):
    """The provider's answer logs nobody in; the message says why, for the person."""


def state_secret(token: str) -> str:
    """The key that signs the state cookie: the deployment's token, through HMAC, so the
    cookie's signature gives nothing away about the token."""
    return hmac.new(token.encode(), b"cellhub oauth state", hashlib.sha256).hexdigest()


def state_middleware(token: str, providers: list[LoginProvider]) -> list[Middleware]:
    """The signed state cookie, when any provider is configured."""
    if not providers:
        return []
    return [
        Middleware(
            SessionMiddleware,
            secret_key=state_secret(token),
            session_cookie=STATE_COOKIE,
            max_age=STATE_LIFETIME,
            path="/oauth/",
            same_site="lax",
        )
    ]


def local_path(candidate: str | None) -> str:
    """``candidate`` when it is a path on this hub, else :data:`HOME`: never another site
    (``//evil.example``, ``/\\evil.example`` and ``https://…`` are refused)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return HOME
    if any(ord(c) < 0x20 or c == "\\" for c in candidate):
        return HOME
    return candidate


class LoginServices:
    """The configured providers, each with its authlib client."""

    def __init__(self, providers: list[LoginProvider]) -> None:
        self.providers = {provider.name: provider for provider in providers}
        self.oauth = OAuth()
        for provider in providers:
            kind = provider.kind
            self.oauth.register(
                provider.name,
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                server_metadata_url=provider.discovery_url or None,
                authorize_url=kind.authorize_url or None,
                access_token_url=kind.token_url or None,
                client_kwargs={
                    "scope": provider.scope or kind.scope,
                    "code_challenge_method": "S256",
                },
            )

    def client(self, name: str) -> StarletteOAuth2App:
        client: StarletteOAuth2App = self.oauth.create_client(name)
        return client

    async def identity(self, provider: LoginProvider, token: dict[str, Any]) -> Identity:
        """Who the provider's tokens belong to: the ID token's claims (and, when they lack a
        name and e-mail, the userinfo endpoint's) for OpenID Connect; the preset's userinfo
        address for OAuth 2."""
        client = self.client(provider.name)
        if provider.kind.is_oidc:
            claims = dict(token.get("userinfo") or {})
            if not claims.get("email") and not claims.get("preferred_username"):
                claims.update(await client.userinfo(token=token))
            return oidc_identity(provider.name, claims)
        kind = provider.kind
        answer = await client.request(kind.userinfo_method, kind.userinfo_url, token=token)
        if answer.status_code != 200:
            raise LoginFailed(f"{provider.label} did not say who logged in ({answer.status_code})")
        return oauth2_identity(provider, answer.json())


def oidc_identity(provider: str, claims: dict[str, Any]) -> Identity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise LoginFailed("the provider's answer names nobody (no subject)")
    return Identity(
        provider,
        subject,
        username=str(claims.get("preferred_username") or claims.get("nickname") or ""),
        email=str(claims.get("email") or ""),
        display_name=str(claims.get("name") or ""),
    )


def oauth2_identity(provider: LoginProvider, answer: Any) -> Identity:
    """GitHub's ``/user`` (id, login, email, name) or Dropbox's ``get_current_account``
    (account_id, email, name.display_name)."""
    if not isinstance(answer, dict):
        raise LoginFailed(f"{provider.label} did not say who logged in")
    subject = answer.get("id") if provider.preset == "github" else answer.get("account_id")
    if subject is None or subject == "":
        raise LoginFailed(f"{provider.label} did not say who logged in (no id)")
    name = answer.get("name")
    display = name.get("display_name") if isinstance(name, dict) else name
    return Identity(
        provider.name,
        str(subject),
        username=str(answer.get("login") or ""),
        email=str(answer.get("email") or ""),
        display_name=str(display or ""),
    )


def services(request: Request) -> LoginServices:
    found: LoginServices = request.app.state.login_services
    return found
