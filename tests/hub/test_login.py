"""Login sessions: the page holds no token, the cookie is not the token, and only the hub's own
pages may write with the cookie (hub/login.py).

Fast tests run the hub's ASGI app in process (no worker: they use the permalinks API as the
state-changing call); the rest start a real ``cellhub serve``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import websockets

from cellhub.config import Config
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.hub.login import COOKIE
from tests.conftest import RunningHub, start_cellhub
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

OWN = {"Origin": HUB}
ELSEWHERE = "http://hub.test:8081"
CONFIG = re.compile(r'<script id="cellhub-config" type="application/json">(.*?)</script>', re.S)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as client:
        yield client


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


async def log_in(client: httpx.AsyncClient, path: str = "/", token: str = TOKEN) -> str:
    """Open a page with the token as a person would; return the login cookie's value."""
    sep = "&" if "?" in path else "?"
    opened = await client.get(f"{path}{sep}token={token}")
    assert opened.status_code == 303, opened.text
    return set_cookie(opened)[COOKIE].value


async def test_token_in_the_address_becomes_a_login_cookie(browser: httpx.AsyncClient) -> None:
    opened = await browser.get(f"/s/abcdef?run=1&token={TOKEN}")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/s/abcdef?run=1"
    morsel = set_cookie(opened)[COOKIE]
    assert morsel.value and TOKEN not in morsel.value
    assert morsel["httponly"] and morsel["samesite"] == "strict" and not morsel["secure"]
    assert int(morsel["max-age"]) == int(Config().login_lifetime)

    page = await browser.get("/", headers={"Sec-Fetch-Site": "none"})
    assert page.status_code == 200
    assert TOKEN not in page.text
    match = CONFIG.search(page.text)
    assert match is not None
    config = json.loads(match.group(1))
    assert "token" not in config and config["anonymous"] is False


async def test_the_cookie_is_secure_over_https(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as client:
        opened = await client.get(f"/?token={TOKEN}")
    assert set_cookie(opened)[COOKIE]["secure"]


async def test_a_wrong_or_made_up_cookie_logs_nobody_in(browser: httpx.AsyncClient) -> None:
    assert (await browser.get(f"/?token={TOKEN}x")).status_code == 403
    assert "set-cookie" not in (await browser.post(f"/?token={TOKEN}")).headers
    assert "set-cookie" not in (await browser.get(f"/?token={TOKEN}x")).headers
    browser.cookies.set(COOKIE, TOKEN)
    assert (await browser.get("/", headers={"Sec-Fetch-Site": "none"})).status_code == 403
    shared = await browser.post("/api/permalinks", json={"code": "1"}, headers=OWN)
    assert shared.status_code == 403


async def test_cookie_writes_only_from_the_hubs_own_pages(browser: httpx.AsyncClient) -> None:
    await log_in(browser)
    body = {"code": "print(1)"}
    made = await browser.post("/api/permalinks", json=body, headers=OWN)
    assert made.status_code == 201
    fetched = {"Sec-Fetch-Site": "same-origin"}
    assert (await browser.post("/api/permalinks", json=body, headers=fetched)).status_code == 201
    for headers in (
        {"Origin": ELSEWHERE},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {},
    ):
        refused = await browser.post("/api/permalinks", json=body, headers=headers)
        assert refused.status_code == 403, headers
        assert "own pages" in refused.json()["message"]
    token = {"Authorization": f"token {TOKEN}", "Origin": ELSEWHERE}
    assert (await browser.post("/api/permalinks", json=body, headers=token)).status_code == 201


async def test_reads_from_other_origins_do_not_count_the_cookie(
    browser: httpx.AsyncClient,
) -> None:
    await log_in(browser)
    assert (await browser.get("/", headers={"Sec-Fetch-Site": "same-origin"})).status_code == 200
    assert (await browser.get("/", headers={"Sec-Fetch-Site": "same-site"})).status_code == 403
    assert (await browser.get("/", headers={"Origin": ELSEWHERE})).status_code == 403


async def test_a_new_token_logs_every_browser_out(tmp_path: Path) -> None:
    before = httpx.ASGITransport(app=in_process_hub(tmp_path))
    async with httpx.AsyncClient(transport=before, base_url=HUB) as client:
        value = await log_in(client)
        assert (await client.get("/", headers=OWN)).status_code == 200
    after = httpx.ASGITransport(app=in_process_hub(tmp_path, token="a-new-token-987654321"))
    async with httpx.AsyncClient(transport=after, base_url=HUB) as client:
        client.cookies.set(COOKIE, value)
        assert (await client.get("/", headers=OWN)).status_code == 403


async def test_login_rows_hold_no_cookie_and_expire(tmp_path: Path) -> None:
    app = in_process_hub(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB) as client:
        value = await log_in(client)
    logins: LoginSessionRepository = app.state.login_sessions
    with logins.engine.connect() as db:
        (key,) = db.exec_driver_sql("SELECT key FROM login_sessions").one()
    assert value not in key and TOKEN not in key
    logins.add("short", lifetime=-1)
    assert not logins.is_live("short") and logins.is_live(key)


@pytest.mark.sqlite_only("a hub of its own; in-process tests check the cookie rules on PostgreSQL")
async def test_real_hub_cookie_starts_kernels_from_its_own_page_only(
    cellhub_server: RunningHub,
) -> None:
    """A cookie-authenticated POST /api/kernels: 201 from the hub's origin, 403 from another
    port of the same host; the token in a header works from anywhere."""
    own = cellhub_server.url.rstrip("/")
    other = re.sub(r":\d+$", ":1", own)
    async with httpx.AsyncClient(base_url=cellhub_server.url) as client:
        await log_in(client, token=cellhub_server.token)
        refused = await client.post("/api/kernels", json={}, headers={"Origin": other})
        assert refused.status_code == 403 and "message" in refused.json()
        started = await client.post("/api/kernels", json={}, headers={"Origin": own})
        assert started.status_code == 201
        kernel_id = started.json()["id"]
        ws_url = own.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        cookie = {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}
        async with websockets.connect(ws_url, origin=own, additional_headers=cookie):  # type: ignore[arg-type]
            pass
        with pytest.raises(websockets.exceptions.InvalidStatus):
            await websockets.connect(ws_url, origin=other, additional_headers=cookie)  # type: ignore[arg-type]
        token = {"Authorization": f"token {cellhub_server.token}", "Origin": other}
        assert (await client.delete(f"/api/kernels/{kernel_id}", headers=token)).status_code == 204


@pytest.mark.sqlite_only(
    "a hub of its own, restarted; in-process tests check login rows on PostgreSQL"
)
async def test_real_hub_restarted_with_a_new_token_refuses_old_cookies(tmp_path: Path) -> None:
    server = start_cellhub(tmp_path / "data")
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"Origin": server.url}) as client:
            value = await log_in(client, token=server.token)
            assert (await client.get("/api/kernels")).status_code == 200
    finally:
        server.stop()
    server = start_cellhub(tmp_path / "data")
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            client.cookies.set(COOKIE, value)
            assert (await client.get("/api/kernels")).status_code == 403
    finally:
        server.stop()


@pytest.mark.sqlite_only("a hub of its own, testing a proxy header")
async def test_real_hub_cookie_is_secure_behind_a_trusted_https_proxy(
    cellhub_server: RunningHub, tmp_path: Path
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=cellhub_server.url, headers=https) as client:
        opened = await client.get(f"/?token={cellhub_server.token}")
        assert not set_cookie(opened)[COOKIE]["secure"], "X-Forwarded-Proto from no proxy"
    proxied = start_cellhub(tmp_path / "data", env={"CELLHUB_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    try:
        async with httpx.AsyncClient(base_url=proxied.url, headers=https) as client:
            opened = await client.get(f"/?token={proxied.token}")
            assert set_cookie(opened)[COOKIE]["secure"]
    finally:
        proxied.stop()
