"""The admin view (/admin) in Chromium, on a real ``cellhub serve`` whose people log in with a
real OpenID Connect provider (tests/oauth/provider.py): an administrator sees the users,
kernels, workers and recent errors, makes an account, ends a person's kernel, disables the
person (who then cannot log in), and drains the worker (no new kernel starts there) and
activates it again; a person who is no administrator gets 403 for the page and its APIs.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.test_oauth_login import log_in_at_provider
from tests.conftest import RunningHub
from tests.oauth.provider import OidcProvider, hub_with_provider, oidc_provider

__all__ = ["hub_with_provider", "oidc_provider"]  # the fixtures, imported for the tests here


def row(page: Any, table: str, text: str) -> Any:
    """The row of the admin table labelled ``table`` that contains ``text``."""
    return page.get_by_role("table", name=table).locator("tbody tr", has_text=text)


def api(hub: RunningHub, method: str, path: str) -> httpx.Response:
    headers = {"Authorization": f"token {hub.token}"}
    return httpx.request(method, f"{hub.url}{path}", headers=headers, json={}, timeout=30)


def admin_page(context: Any, hub: RunningHub) -> Any:
    page = context.new_page()
    page.goto(f"{hub.url}admin?token={hub.token}")
    for table in ("Users", "Kernels", "Workers", "Recent errors"):
        page.get_by_role("table", name=table).wait_for()
    return page


def test_an_admin_ends_a_kernel_disables_a_user_and_drains_the_worker(
    browser: Any, hub_with_provider: RunningHub, oidc_provider: OidcProvider
) -> None:
    hub = hub_with_provider
    oidc_provider.set_user("s-kim", preferred_username="kim")
    person = browser.new_context()
    kims = person.new_page()
    log_in_at_provider(kims, hub, "s-kim")
    kernel = kims.evaluate("fetch('/api/kernels', {method: 'POST'}).then(r => r.json())")["id"]

    admin = admin_page(browser.new_context(), hub)
    assert row(admin, "Users", "kim").locator("td").nth(1).inner_text() == "user"
    admin.get_by_label("New account's name").fill("sam")
    admin.get_by_label("Role").select_option("admin")
    admin.get_by_role("button", name="Create").click()
    assert row(admin, "Users", "sam").locator("td").nth(1).inner_text() == "admin"
    kernel_row = row(admin, "Kernels", kernel[:8])
    assert kernel_row.locator("td").nth(2).inner_text() == "kim"
    kernel_row.get_by_role("button", name="End").click()
    kernel_row.wait_for(state="detached")
    assert api(hub, "GET", f"api/kernels/{kernel}").status_code == 404

    row(admin, "Users", "kim").get_by_role("button", name="Disable").click()
    row(admin, "Users", "kim").get_by_text("disabled").wait_for()
    assert kims.evaluate("fetch('/api/users/me').then(r => r.status)") == 403
    again = browser.new_context().new_page()
    again.goto(f"{hub.url}login")
    again.get_by_role("link", name="Log in with Mock SSO").click()
    again.fill("input[name=sub]", "s-kim")
    again.get_by_role("button", name="Authorize").click()
    again.get_by_text("The account kim is disabled").wait_for()
    admin.reload()
    row(admin, "Recent errors", "account kim is disabled").wait_for()

    worker = admin.get_by_role("table", name="Workers").locator("tbody tr").first
    worker.get_by_role("button", name="Drain").click()
    worker.get_by_role("button", name="Activate").wait_for()
    assert worker.locator("td").nth(2).inner_text() == "draining"
    refused = api(hub, "POST", "api/kernels")
    assert refused.status_code == 503 and "draining" in refused.json()["message"]
    worker.get_by_role("button", name="Activate").click()
    worker.get_by_role("button", name="Drain").wait_for()
    started = api(hub, "POST", "api/kernels")
    assert started.status_code == 201
    assert api(hub, "DELETE", f"api/kernels/{started.json()['id']}").status_code == 204


def test_a_person_who_is_no_admin_gets_403(
    browser: Any, hub_with_provider: RunningHub, oidc_provider: OidcProvider
) -> None:
    oidc_provider.set_user("s-lee", preferred_username="lee")
    page = browser.new_context().new_page()
    log_in_at_provider(page, hub_with_provider, "s-lee")
    assert page.get_by_role("link", name="Admin").count() == 0
    answer = page.goto(f"{hub_with_provider.url}admin")
    assert answer is not None and answer.status == 403
    for path in ("/api/admin/kernels", "/api/admin/errors", "/api/users", "/api/workers"):
        status = page.evaluate(f"fetch('{path}').then(r => r.status)")
        assert status == 403, path
    drain = "fetch('/api/workers/drain', {method: 'POST', body: '{}'}).then(r => r.status)"
    assert page.evaluate(drain) == 403
