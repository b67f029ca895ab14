"""The login form and logout (hub/login_form.py): a password logs a browser in as its
account, on a fresh cookie; wrong guesses are slowed per name and per address; a login ends
at logout, at a password reset, and when idle. In process, no worker."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from cellhub.db.accounts import AccountExists
from cellhub.hub.login import COOKIE
from cellhub.hub.passwords import hash_password
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

OWN = {"Origin": HUB}


def client(tmp_path: Path, **settings: Any) -> httpx.AsyncClient:
    tmp_path.mkdir(exist_ok=True)
    app = in_process_hub(tmp_path, **settings)
    with contextlib.suppress(AccountExists):  # a test's hubs share its PostgreSQL database
        app.state.accounts.create("ada", password_hash=hash_password("correct horse"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB)


async def log_in(http: httpx.AsyncClient, password: str, next_path: str = "/") -> httpx.Response:
    form = {"name": "ada", "password": password, "next": next_path}
    return await http.post("/login", data=form, headers=OWN)


async def test_a_password_logs_in_and_logout_ends_it(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        assert "Log in" in (await http.get("/login?next=/s/abc")).text
        http.cookies.set(COOKIE, "planted-by-someone-else", domain="hub.test")
        done = await log_in(http, "correct horse", "/s/abc?run=1")
        assert done.status_code == 303 and done.headers["location"] == "/s/abc?run=1"
        cookie = http.cookies[COOKIE]
        assert cookie != "planted-by-someone-else"
        assert "httponly" in done.headers["set-cookie"].lower()
        me = await http.get("/api/users/me", headers=OWN)
        assert me.status_code == 200 and me.json()["name"] == "ada" and not me.json()["admin"]
        assert (await http.get("/api/users", headers=OWN)).status_code == 403
        cross = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}
        assert (await http.post("/logout", headers=cross)).status_code == 403
        ours = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # a no-referrer form post
        assert (await http.post("/logout", headers=ours)).status_code == 303
        http.cookies.set(COOKIE, cookie, domain="hub.test")
        assert (await http.get("/api/users/me", headers=OWN)).status_code == 403


async def test_wrong_passwords_and_open_redirects(tmp_path: Path) -> None:
    async with client(tmp_path, login_attempts=3) as http:
        wrong = await log_in(http, "wrong")
        assert wrong.status_code == 403 and "Wrong name or password" in wrong.text
        assert COOKIE not in http.cookies
        elsewhere = await log_in(http, "correct horse", "//evil.example/")
        assert elsewhere.headers["location"] == "/"
        refused = await http.post("/login", data={"name": "ada", "password": "correct horse"})
        assert refused.status_code == 403  # no Origin: maybe another site's form
        form = {"name": "ada", "password": "correct horse"}
        forged = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}
        assert (await http.post("/login", data=form, headers=forged)).status_code == 403
        assert (await log_in(http, "wrong")).status_code == 403  # the third of three
        assert (await log_in(http, "correct horse")).status_code == 429  # budget spent


async def test_a_password_change_ends_the_login(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        await log_in(http, "correct horse")
        assert (await http.get("/api/users/me", headers=OWN)).status_code == 200
        app = http._transport.app  # type: ignore[attr-defined]  # the in-process hub
        ada = app.state.accounts.by_name("ada")
        app.state.accounts.set_password(ada.id, hash_password("new password"))
        assert (await http.get("/api/users/me", headers=OWN)).status_code == 403


@pytest.mark.parametrize("idle", [0.0, 1e-9])
async def test_idle_logins_end(tmp_path: Path, idle: float) -> None:
    async with client(tmp_path, login_idle_timeout=idle) as http:
        await log_in(http, "correct horse")
        expected = 403 if idle else 200
        assert (await http.get("/api/users/me", headers=OWN)).status_code == expected


async def sign_up(http: httpx.AsyncClient, name: str, invite: str = "") -> httpx.Response:
    form = {"name": name, "password": "long enough", "invite": invite}
    return await http.post("/signup", data=form, headers=OWN)


async def test_sign_up_follows_the_policy(tmp_path: Path) -> None:
    async with client(tmp_path / "closed") as http:
        assert (await http.get("/signup")).status_code == 403
        assert (await sign_up(http, "eve")).status_code == 403
    async with client(tmp_path / "open", signup="open") as http:
        assert (await http.get("/signup")).status_code == 200
        assert (await sign_up(http, "ada")).status_code == 409  # taken
        short = await http.post("/signup", data={"name": "eve", "password": "x"}, headers=OWN)
        assert short.status_code == 400
        assert (await sign_up(http, "eve")).status_code == 303
        me = await http.get("/api/users/me", headers=OWN)
        assert me.json()["name"] == "eve" and not me.json()["admin"]


async def test_an_invitation_signs_up_one_account(tmp_path: Path) -> None:
    async with client(tmp_path, signup="invitation") as http:
        root = {"Authorization": f"token {TOKEN}"}
        made = await http.post("/api/users/invitations", json={}, headers=root)
        assert made.status_code == 201
        code = made.json()["url"].split("invite=")[1]
        assert (await http.get("/signup")).status_code == 403
        assert (await http.get(f"/signup?invite={code}")).status_code == 200
        assert (await sign_up(http, "eve", code + "x")).status_code == 403
        assert (await sign_up(http, "eve", code)).status_code == 303
        assert (await sign_up(http, "mallory", code)).status_code == 403  # used
        names = [a["name"] for a in (await http.get("/api/users", headers=root)).json()]
        assert names == ["ada", "eve"]
