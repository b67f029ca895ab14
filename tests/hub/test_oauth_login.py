"""The OAuth/OpenID Connect login (hub/oauth.py, hub/oauth_login.py) against a real provider
(oidc-provider-mock, its own process), the hub in process: accounts made and found, links,
and every way a callback is refused. The browser's side is tests/browser/test_oauth_login.py.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from cellhub.config import ConfigError, load_config
from cellhub.db.accounts import AccountRepository
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.hub.login import COOKIE, login_key
from cellhub.hub.oauth import STATE_COOKIE, local_path
from tests.hub.in_process import HUB, TOKEN, in_process_hub
from tests.oauth.provider import CLIENT_SECRET, OidcProvider, oidc_provider

__all__ = ["oidc_provider"]  # the fixture, imported for the tests here
pytestmark = pytest.mark.both_databases


@pytest.fixture
def hub(tmp_path: Path, oidc_provider: OidcProvider) -> Starlette:
    return in_process_hub(tmp_path, login_providers=oidc_provider.provider_setting())


@pytest.fixture
async def browser(hub: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_of(hub) as client:
        yield client


def browser_of(hub: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=hub), base_url=HUB)


def accounts(hub: Starlette) -> AccountRepository:
    found: AccountRepository = hub.state.accounts
    return found


async def consent(browser: httpx.AsyncClient, form: dict[str, str], next: str = "/") -> str:
    """Start a login and answer the provider's form; the address it sends the browser back to."""
    started = await browser.get("/oauth/mock/login", params={"next": next})
    assert started.status_code == 302, started.text
    async with httpx.AsyncClient() as provider:
        answered = await provider.post(started.headers["location"], data=form)
    assert answered.status_code == 302, answered.text
    back: str = answered.headers["location"]
    assert back.startswith(f"{HUB}/oauth/mock/callback?")
    return back


def landed_at(answer: httpx.Response) -> str:
    """Where the page after a login moves on to (its meta refresh, and its link)."""
    refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]*)"', answer.text)
    link = re.search(r'<a id="continue" href="([^"]*)"', answer.text)
    assert refresh and link and refresh.group(1) == link.group(1), answer.text
    return html.unescape(refresh.group(1))


async def log_in_as(browser: httpx.AsyncClient, subject: str, next: str = "/") -> httpx.Response:
    return await browser.get(await consent(browser, {"sub": subject}, next))


async def test_a_first_login_makes_an_account_and_the_next_finds_it(
    hub: Starlette, browser: httpx.AsyncClient, oidc_provider: OidcProvider
) -> None:
    oidc_provider.set_user("s-ada", preferred_username="ada", email="ada@example.org", name="Ada")
    landed = await log_in_as(browser, "s-ada", next="/s/abc?run=1")
    assert landed.status_code == 200 and landed_at(landed) == "/s/abc?run=1"
    assert browser.cookies.get(COOKIE)
    account = accounts(hub).by_identity("mock", "s-ada")
    assert account is not None
    assert (account.name, account.email, account.display_name) == ("ada", "ada@example.org", "Ada")
    async with browser_of(hub) as another:
        again = await log_in_as(another, "s-ada")
        assert again.status_code == 200
    found = accounts(hub).by_identity("mock", "s-ada")
    assert found is not None and found.id == account.id
    assert len(accounts(hub).every()) == 1


async def test_the_callback_may_reach_another_hub(
    tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    """Two hubs of one deployment (the same token and database): a login started on one
    completes on the other, since the state cookie is signed with a key both derive from the
    token; a hub with another token refuses it."""
    setting = oidc_provider.provider_setting()
    one, two = (in_process_hub(tmp_path, login_providers=setting) for _ in range(2))
    (tmp_path / "elsewhere").mkdir()
    stranger = in_process_hub(tmp_path / "elsewhere", "another-token-0123", login_providers=setting)
    async with browser_of(one) as first, browser_of(two) as second, browser_of(stranger) as third:
        back = await consent(first, {"sub": "s-multi"})
        third.cookies = first.cookies
        assert (await third.get(back)).status_code == 403  # another deployment's key
        second.cookies = first.cookies
        assert (await second.get(back)).status_code == 200
        assert second.cookies.get(COOKIE)
    assert accounts(one).by_identity("mock", "s-multi") is not None


async def test_a_taken_name_gets_a_number(
    hub: Starlette, browser: httpx.AsyncClient, oidc_provider: OidcProvider
) -> None:
    accounts(hub).create("grace")
    oidc_provider.set_user("s-grace", preferred_username="grace")
    assert (await log_in_as(browser, "s-grace")).status_code == 200
    account = accounts(hub).by_identity("mock", "s-grace")
    assert account is not None and account.name == "grace-2"


async def test_a_logged_in_account_gets_the_identity_linked(
    hub: Starlette, browser: httpx.AsyncClient, oidc_provider: OidcProvider
) -> None:
    bob = accounts(hub).create("bob")
    value = secrets.token_urlsafe(32)
    logins: LoginSessionRepository = hub.state.login_sessions
    logins.add(login_key(TOKEN, value), 3600, bob.id)
    browser.cookies.set(COOKIE, value)
    browser.headers["Sec-Fetch-Site"] = "same-origin"
    oidc_provider.set_user("s-robert", preferred_username="robert")
    assert (await log_in_as(browser, "s-robert")).status_code == 200
    linked = accounts(hub).by_identity("mock", "s-robert")
    assert linked is not None and linked.id == bob.id
    assert [a.name for a in accounts(hub).every()] == ["bob"]


async def test_a_callback_this_browser_did_not_start_is_refused(
    hub: Starlette, browser: httpx.AsyncClient, oidc_provider: OidcProvider
) -> None:
    """CSRF on the callback: an attacker's own code and state, sent to the victim's browser,
    do not log it in; nor does a callback replayed after its login."""
    async with browser_of(hub) as attacker:
        forged = await consent(attacker, {"sub": "s-mallory"})
    refused = await browser.get(forged)
    assert refused.status_code == 403 and "not started in this browser" in refused.text
    assert not browser.cookies.get(COOKIE)
    back = await consent(browser, {"sub": "s-ada"})
    assert (await browser.get(back)).status_code == 200
    replayed = await browser.get(back)
    assert replayed.status_code == 403
    assert accounts(hub).by_identity("mock", "s-mallory") is None


async def test_a_code_the_provider_did_not_give_logs_nobody_in(
    hub: Starlette, browser: httpx.AsyncClient
) -> None:
    back = await consent(browser, {"sub": "s-ada"})
    forged = re.sub(r"code=[^&]+", "code=not-the-code", back)
    refused = await browser.get(forged)
    assert refused.status_code in (403, 502) and "Login failed" in refused.text
    assert not browser.cookies.get(COOKIE)
    assert accounts(hub).by_identity("mock", "s-ada") is None


async def test_a_denied_login_says_so(browser: httpx.AsyncClient) -> None:
    back = await consent(browser, {"action": "deny"})
    refused = await browser.get(back)
    assert refused.status_code == 403 and "did not let you log in" in refused.text
    assert not browser.cookies.get(COOKIE)


async def test_a_disabled_account_cannot_log_in(
    hub: Starlette, browser: httpx.AsyncClient, oidc_provider: OidcProvider
) -> None:
    oidc_provider.set_user("s-eve", preferred_username="eve")
    assert (await log_in_as(browser, "s-eve")).status_code == 200
    eve = accounts(hub).by_identity("mock", "s-eve")
    assert eve is not None
    accounts(hub).set_disabled(eve.id)
    async with browser_of(hub) as later:
        refused = await log_in_as(later, "s-eve")
        assert refused.status_code == 403 and "eve is disabled" in refused.text
        assert not later.cookies.get(COOKIE)


async def test_after_login_the_browser_stays_on_this_hub(
    browser: httpx.AsyncClient, oidc_provider: OidcProvider
) -> None:
    """No open redirect: a ``next`` that leads elsewhere lands on the hub's home."""
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "x"):
        landed = await log_in_as(browser, "s-ada", next=elsewhere)
        assert landed_at(landed) == "/", elsewhere
    assert local_path("/s/abc?run=1#z=1") == "/s/abc?run=1#z=1"


async def test_an_unknown_provider_is_404(browser: httpx.AsyncClient) -> None:
    for path in ("/oauth/nobody/login", "/oauth/nobody/callback?code=x&state=y"):
        answer = await browser.get(path)
        assert answer.status_code == 404 and "no login provider called" in answer.text


async def test_the_state_cookie_is_scoped_and_lax(browser: httpx.AsyncClient) -> None:
    """SameSite=Lax, so the provider's redirect back carries it; path /oauth/, so no other
    request does."""
    started = await browser.get("/oauth/mock/login")
    cookie = started.headers["set-cookie"].lower()
    assert cookie.startswith(f"{STATE_COOKIE}=") and "path=/oauth/" in cookie
    assert "samesite=lax" in cookie and "httponly" in cookie


async def test_the_client_secret_shows_nowhere(
    tmp_path: Path,
    hub: Starlette,
    browser: httpx.AsyncClient,
    oidc_provider: OidcProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [await log_in_as(browser, "s-ada"), await browser.get("/oauth/mock/callback")]
    answers.append(await browser.get("/", params={"token": TOKEN}, follow_redirects=True))
    for answer in answers:
        assert CLIENT_SECRET not in answer.text
    assert CLIENT_SECRET not in caplog.text
    assert CLIENT_SECRET not in repr(hub.state.config)
    bad = {"mock": {**oidc_provider.provider_setting()["mock"], "issuer": "nowhere"}}
    with pytest.raises(ConfigError) as refused:
        load_config(environ={}, overrides={"login_providers": bad})
    assert "issuer" in str(refused.value) and CLIENT_SECRET not in str(refused.value)
