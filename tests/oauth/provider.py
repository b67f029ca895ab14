"""A real OpenID Connect provider for the login tests: oidc-provider-mock, run as a process
on an ephemeral port.

It serves discovery, JWKS, the authorization endpoint (a form where the person types the
subject they log in as, and may deny), the token endpoint (signed ID tokens), userinfo and
end-session, and takes any client id and secret. A test sets a subject's claims with
:meth:`OidcProvider.set_user` before logging in as it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import RunningHub, launch, start_cellhub, stop

READY = re.compile(r"Uvicorn running on (http://\S+)")
#: The hub's client secret at the provider: tests check it shows nowhere.
CLIENT_SECRET = "provider-secret-4f9c1e7d2b"


@dataclass
class OidcProvider:
    process: subprocess.Popen[str]
    url: str
    output: list[str]

    def set_user(self, subject: str, **claims: Any) -> None:
        """The claims the provider gives for ``subject`` (email, preferred_username, name…)."""
        answer = httpx.put(f"{self.url}/users/{quote(subject, safe='')}", json=claims)
        assert answer.status_code == 204, answer.text

    def provider_setting(self, name: str = "mock", **extra: Any) -> dict[str, Any]:
        """The hub's ``login_providers`` entry for this provider, as a generic OIDC one."""
        entry = {
            "preset": "oidc",
            "issuer": self.url,
            "client_id": "cellhub",
            "client_secret": CLIENT_SECRET,
            "title": "Mock SSO",
            **extra,
        }
        return {name: entry}


def start_provider() -> OidcProvider:
    process, match, output = launch(
        ["--port", "0"], READY, {"NO_COLOR": "1"}, timeout=30, module="oidc_provider_mock"
    )
    return OidcProvider(process, match.group(1), output)


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OidcProvider]:
    provider = start_provider()
    yield provider
    stop(provider.process)


@pytest.fixture(scope="module")
def hub_with_provider(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[RunningHub]:
    """A real ``cellhub serve`` that logs people in with ``oidc_provider`` ("Mock SSO")."""
    setting = json.dumps(oidc_provider.provider_setting())
    server = start_cellhub(
        tmp_path_factory.mktemp("oauth-hub"), env={"CELLHUB_LOGIN_PROVIDERS": setting}
    )
    yield server
    server.stop()
