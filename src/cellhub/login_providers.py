"""The ``login_providers`` setting: the OAuth 2 / OpenID Connect services people log in with.

Each entry is a TOML table named for the provider (the name is in its login and callback
addresses, ``/oauth/NAME/login`` and ``/oauth/NAME/callback``, and in the identities it
links to accounts)::

    [login_providers.github]             # preset: the table's name, when it is one
    client_id = "Iv1.0123"
    client_secret = "…"

    [login_providers.campus]
    preset = "oidc"                      # any OpenID Connect provider: Keycloak, Azure AD, …
    issuer = "https://sso.example.edu/realms/staff"
    client_id = "cellhub"
    client_secret = "…"
    title = "University login"           # the login button's label

A preset says how to talk to a provider: GitHub and Dropbox speak OAuth 2 without OpenID
Connect, so their endpoints and the address of who logged in are written here; Google and
the generic ``oidc`` preset are OpenID Connect, found through the issuer's discovery
document. This module only reads and checks the setting (the configuration calls
:func:`parse_providers` at start-up); hub/oauth.py does the logging in. A provider's client
secret is no part of any ``repr``, so neither a logged configuration nor an error message
shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: What a provider entry may hold.
KEYS = frozenset({"preset", "client_id", "client_secret", "issuer", "title", "scope"})
#: A provider's name: it is part of addresses and of stored identities.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Preset:
    """How to reach one kind of provider.

    OpenID Connect presets have a ``discovery`` address (``{issuer}`` filled in) and take
    who logged in from the ID token; OAuth 2 ones name their endpoints and a ``userinfo``
    address read with the access token (``userinfo_method``: Dropbox wants POST).
    """

    title: str
    scope: str
    discovery: str = ""
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    userinfo_method: str = "GET"

    @property
    def is_oidc(self) -> bool:
        return bool(self.discovery)


PRESETS: dict[str, Preset] = {
    "github": Preset(
        title="GitHub",
        scope="read:user user:email",
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        userinfo_url="https://api.github.com/user",
    ),
    "google": Preset(
        title="Google",
        scope="openid email profile",
        discovery="https://accounts.google.com/.well-known/openid-configuration",
    ),
    "dropbox": Preset(
        title="Dropbox",
        scope="account_info.read",
        authorize_url="https://www.dropbox.com/oauth2/authorize",
        token_url="https://api.dropboxapi.com/oauth2/token",
        userinfo_url="https://api.dropboxapi.com/2/users/get_current_account",
        userinfo_method="POST",
    ),
    "oidc": Preset(
        title="single sign-on",
        scope="openid email profile",
        discovery="{issuer}/.well-known/openid-configuration",
    ),
}


@dataclass(frozen=True)
class LoginProvider:
    """One configured provider: its name, preset, client credentials and label."""

    name: str
    preset: str
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str = ""
    title: str = ""
    scope: str = ""

    @property
    def kind(self) -> Preset:
        return PRESETS[self.preset]

    @property
    def label(self) -> str:
        return self.title or self.kind.title

    @property
    def discovery_url(self) -> str:
        """The OpenID Connect discovery document's address ("" for an OAuth 2 preset); an
        ``issuer`` that is the document's own address is taken as it is."""
        if not self.kind.is_oidc:
            return ""
        if self.issuer.endswith("/.well-known/openid-configuration"):
            return self.issuer
        return self.kind.discovery.format(issuer=self.issuer.rstrip("/"))


def parse_providers(setting: Mapping[str, Any]) -> list[LoginProvider]:
    """The providers of the ``login_providers`` setting, checked; ValueError names the
    provider and what is wrong (never a secret's value)."""
    return [parse_provider(name, entry) for name, entry in setting.items()]


def parse_provider(name: str, entry: Any) -> LoginProvider:
    if not name or not set(name) <= NAME_CHARACTERS:
        raise ValueError(f"provider name {name!r}: use lowercase letters, digits, - and _")
    if not isinstance(entry, Mapping):
        raise ValueError(f"provider {name!r} is a table (client_id, client_secret, …)")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise ValueError(f"provider {name!r}: unknown key {unknown[0]!r}")
    preset = entry.get("preset", name if name in PRESETS else "")
    if preset not in PRESETS:
        raise ValueError(f"provider {name!r}: preset must be one of {', '.join(PRESETS)}")
    values = {key: entry.get(key, "") for key in ("client_id", "client_secret", "issuer")}
    for key in ("client_id", "client_secret"):
        if not isinstance(values[key], str) or not values[key]:
            raise ValueError(f"provider {name!r} needs a {key}")
    issuer = values["issuer"]
    if preset == "oidc" and (not isinstance(issuer, str) or not is_web_address(issuer)):
        raise ValueError(f"provider {name!r} needs an issuer (https://…), its discovery URL's base")
    return LoginProvider(
        name=name,
        preset=preset,
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        issuer=str(issuer),
        title=str(entry.get("title", "")),
        scope=str(entry.get("scope", "")),
    )


def is_web_address(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
