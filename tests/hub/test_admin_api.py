"""The admin view's page and APIs (hub/admin.py, hub/accounts_api.py, the drains of
hub/workers_api.py) in process: only administrators get them, and the users API does what
the admin view's buttons ask. The view itself, with a worker, is
tests/browser/test_admin_view.py.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from cellhub.db.accounts import AccountRepository
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.hub.login import COOKIE, login_key
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

ADMIN = {"Authorization": f"token {TOKEN}"}
OWN = {"Origin": HUB, "Sec-Fetch-Site": "same-origin"}
#: Every admin route, as a non-administrator would try it.
ADMIN_ROUTES = [
    ("GET", "/admin"),
    ("GET", "/api/admin/kernels"),
    ("GET", "/api/admin/errors"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("POST", "/api/users/ada/disable"),
    ("POST", "/api/users/ada/enable"),
    ("POST", "/api/users/ada/reset"),
    ("GET", "/api/workers"),
    ("POST", "/api/workers/drain"),
    ("POST", "/api/workers/activate"),
    ("POST", "/api/workers/spares"),
]


@pytest.fixture
def hub(tmp_path: Path) -> Starlette:
    return in_process_hub(tmp_path)


@pytest.fixture
async def client(hub: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub), base_url=HUB) as c:
        yield c


def accounts(hub: Starlette) -> AccountRepository:
    found: AccountRepository = hub.state.accounts
    return found


def log_in(hub: Starlette, client: httpx.AsyncClient, account_id: int) -> None:
    """Log ``client`` in as the account, as the login form or a provider's callback would."""
    value = secrets.token_urlsafe(32)
    logins: LoginSessionRepository = hub.state.login_sessions
    logins.add(login_key(TOKEN, value), 3600, account_id)
    client.cookies.set(COOKIE, value)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_a_user_gets_403_from_every_admin_route(
    hub: Starlette, client: httpx.AsyncClient, method: str, path: str
) -> None:
    log_in(hub, client, accounts(hub).create("ada").id)
    answer = await client.request(method, path, headers=OWN, json={"name": "x"})
    assert answer.status_code == 403


async def test_an_admin_account_gets_the_page(hub: Starlette, client: httpx.AsyncClient) -> None:
    log_in(hub, client, accounts(hub).create("root", role="admin").id)
    page = await client.get("/admin", headers=OWN)
    assert page.status_code == 200 and "/static/admin.js" in page.text
    assert '"admin": "root"' in page.text


async def test_disabling_a_user_ends_its_logins(hub: Starlette, client: httpx.AsyncClient) -> None:
    """What the admin view's Disable does (the accounts API itself: test_authorization.py)."""
    made = await client.post("/api/users", headers=ADMIN, json={"name": "ada", "password": "pw"})
    assert made.status_code == 201
    async with httpx.AsyncClient(transport=client._transport, base_url=HUB) as browser:
        log_in(hub, browser, accounts(hub).by_name("ada").id)
        assert (await browser.get("/api/kernels", headers=OWN)).status_code == 200
        disabled = await client.post("/api/users/ada/disable", headers=ADMIN)
        assert disabled.json()["disabled"] is True
        assert (await browser.get("/api/kernels", headers=OWN)).status_code == 403


async def test_recent_errors_list_the_hubs_warnings_newest_first(
    hub: Starlette, client: httpx.AsyncClient
) -> None:
    ring = hub.state.recent_errors
    ring.install()
    try:
        logging.getLogger("cellhub.test").warning("first %s", "thing")
        logging.getLogger("uvicorn.error").error("Exception in ASGI application")
        logging.getLogger("cellhub.test").info("not an error")
    finally:
        ring.uninstall()
    listed = (await client.get("/api/admin/errors", headers=ADMIN)).json()
    assert [(e["level"], e["message"]) for e in listed] == [
        ("ERROR", "Exception in ASGI application"),
        ("WARNING", "first thing"),
    ]


async def test_draining_a_worker_the_hub_does_not_use_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/workers/drain", headers=ADMIN, json={"worker": "nowhere"})
    assert answer.status_code == 404 and "nowhere" in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"spares": 3}, "'worker' must be"),
        ({"worker": "nowhere", "spares": -1}, "'spares' must be a whole number from 0 to"),
        ({"worker": "nowhere", "spares": "3"}, "'spares' must be"),
        ({"worker": "nowhere", "spares": True}, "'spares' must be"),
        ({"worker": "nowhere", "spares": 10**6}, "'spares' must be"),
    ],
    ids=["no worker", "negative", "a string", "a boolean", "too many"],
)
async def test_spares_out_of_range_are_refused(
    client: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    answer = await client.post("/api/workers/spares", headers=ADMIN, json=body)
    assert answer.status_code == 400 and message in answer.json()["message"]


async def test_spares_for_a_worker_the_hub_does_not_use_is_404(client: httpx.AsyncClient) -> None:
    body = {"worker": "nowhere", "spares": 3}
    answer = await client.post("/api/workers/spares", headers=ADMIN, json=body)
    assert answer.status_code == 404 and "nowhere" in answer.json()["message"]
