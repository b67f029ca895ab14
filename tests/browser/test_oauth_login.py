"""Logging in with an OpenID Connect provider, in Chromium: a real provider (oidc-provider-mock,
tests/oauth/provider.py) and a real ``cellhub serve`` configured with it as a generic OIDC
provider. The person clicks "Log in with …", picks who they are and authorizes at the
provider, and lands back on the worksheet logged in, their name on the page; the account is
there for the admin; a second login finds it; logging out ends the login.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningHub
from tests.oauth.provider import CLIENT_SECRET, OidcProvider, hub_with_provider, oidc_provider

__all__ = ["hub_with_provider", "oidc_provider"]  # the fixtures, imported for the tests here


def log_in_at_provider(page: Any, hub: RunningHub, subject: str) -> None:
    """From the hub's login page, through the provider's form, back to the worksheet."""
    page.goto(f"{hub.url}login")
    page.get_by_role("link", name="Log in with Mock SSO").click()
    page.wait_for_selector("input[name=sub]")
    page.fill("input[name=sub]", subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{hub.url}")
    page.wait_for_selector(".account-name")


def accounts(hub: RunningHub) -> dict[str, Any]:
    answer = httpx.get(f"{hub.url}api/users", headers={"Authorization": f"token {hub.token}"})
    assert answer.status_code == 200
    return {account["name"]: account for account in answer.json()}


def me(page: Any) -> Any:
    return page.evaluate("fetch('/api/users/me').then(r => r.ok ? r.json() : r.status)")


def test_log_in_with_the_provider_find_the_account_again_and_log_out(
    browser: Any, hub_with_provider: RunningHub, oidc_provider: OidcProvider
) -> None:
    hub = hub_with_provider
    oidc_provider.set_user("s-ada", preferred_username="ada", email="ada@example.org", name="Ada")
    first = browser.new_context()
    page = first.new_page()
    log_in_at_provider(page, hub, "s-ada")
    assert page.inner_text(".account-name") == "ada"
    page.wait_for_selector(".cell .cm-content")
    assert me(page)["name"] == "ada"
    assert accounts(hub)["ada"]["admin"] is False

    second = browser.new_context()
    again = second.new_page()
    log_in_at_provider(again, hub, "s-ada")
    assert again.inner_text(".account-name") == "ada"
    assert [name for name in accounts(hub) if name.startswith("ada")] == ["ada"]
    second.close()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{hub.url}login")
    assert me(page) == 403
    first.close()
    for answer in (httpx.get(f"{hub.url}login"), httpx.get(f"{hub.url}api/users/me")):
        assert CLIENT_SECRET not in answer.text
    assert not any(CLIENT_SECRET in line for line in hub.output)
