"""Every route, for every kind of caller: who gets in, who is refused (hub/access.py,
hub/ownership.py, hub/accounts_api.py). In process, no worker: milliseconds a request.

The callers: no credentials (anonymous, on a hub without anonymous use), an account's API
token (the owner of the kernel and session the paths name), another account's token, an
admin account's token, an admin account's kernels-only token, and the deployment token.
A kernel or session path names the first account's; account paths name a third account.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from cellhub.db.accounts import AccountRepository
from cellhub.db.api_tokens import ApiTokenRepository
from cellhub.db.jupyter_sessions import JupyterSessionRepository, SessionRecord
from cellhub.hub.access import Access, Guarded
from cellhub.hub.app import hub_routes
from cellhub.hub.callers import account_owner
from cellhub.hub.kernels import KernelService
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

ROLES = ("anonymous", "user", "other", "admin", "admin-kernels-only", "deployment")
#: The token scopes of each role that has a token.
SCOPES = {
    "user": ("kernels", "files"),
    "other": ("kernels", "files"),
    "admin": ("kernels", "files", "admin"),
    "admin-kernels-only": ("kernels",),
    "deployment": ("kernels", "files", "admin"),
}
ADMINS = ("admin", "deployment")
#: Callers for whom the first account's kernels and sessions are someone else's (an admin's
#: token without the admin scope acts as a plain account: least privilege).
STRANGERS = ("other", "admin-kernels-only")
#: A path parameter's convertor (``{path:path}``), left out to fill the parameter in.
CONVERTOR = re.compile(r"\{(\w+):\w+\}")
#: The pages with forms, whose own refusals test_login_form.py checks.
FORMS = ("/login", "/logout", "/signup")


@dataclass
class World:
    app: Starlette
    headers: dict[str, dict[str, str]]
    params: dict[str, str]


def token_of(app: Starlette, name: str, admin: bool, scopes: tuple[str, ...]) -> str:
    accounts: AccountRepository = app.state.accounts
    tokens: ApiTokenRepository = app.state.api_tokens
    try:
        account = accounts.by_name(name)
    except LookupError:
        account = accounts.create(name, role="admin" if admin else "user")
    return tokens.create(account.id, scopes)[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> World:
    app = in_process_hub(tmp_path_factory.mktemp("authorization"), database_url=module_database_url)
    tokens = {
        "user": token_of(app, "ada", False, SCOPES["user"]),
        "other": token_of(app, "bob", False, SCOPES["other"]),
        "admin": token_of(app, "root", True, SCOPES["admin"]),
        "admin-kernels-only": token_of(app, "root", True, SCOPES["admin-kernels-only"]),
        "deployment": TOKEN,
    }
    headers = {role: {"Authorization": f"token {token}"} for role, token in tokens.items()}
    headers["anonymous"] = {}
    ada = app.state.accounts.by_name("ada")
    app.state.accounts.create("victim")
    kernels: KernelService = app.state.kernels
    kernel_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    kernels.repository.add(kernel_id, "python3", "gone.example:1", account_owner(ada.id))
    sessions: JupyterSessionRepository = app.state.jupyter_sessions
    owner = account_owner(ada.id)
    sessions.add(SessionRecord(session_id, "a.ipynb", "", "notebook", kernel_id, owner))
    spare = app.state.api_tokens.create(ada.id)[1].id
    params = {
        "kernel_id": kernel_id,
        "session_id": session_id,
        "name": "python3",
        "file": "logo-32x32.png",
        "permalink_id": "abcdefgh",
        "token_id": str(spare),
        "provider": "nobody",
        "path": "notes.ipynb",
        "number": "1",
        "checkpoint_id": "1",
    }
    return World(app, headers, params)


def cases() -> list[tuple[str, str, Guarded]]:
    """(method, path template, route entry) of every HTTP route but the :data:`FORMS`."""
    found = []
    for guarded in hub_routes():
        if isinstance(guarded.route, Route) and guarded.route.path in FORMS:
            continue
        if isinstance(guarded.route, Route):
            for method in sorted((guarded.route.methods or set()) - {"HEAD"}):
                found.append((method, guarded.route.path, guarded))
        elif isinstance(guarded.route, Mount):
            found.append(("GET", guarded.route.path + "/app.css", guarded))
    return found


def allowed(role: str, path: str, guarded: Guarded) -> bool:
    """Whether ``role`` gets past the access check and the ownership check."""
    if guarded.access is Access.ANYONE:
        return True
    if role == "anonymous" or guarded.token_scope not in SCOPES[role]:
        return False
    if guarded.access is Access.ADMIN:
        return role in ADMINS
    return not (role in STRANGERS and "{kernel_id}" in path)


async def answer(world: World, method: str, path: str, role: str) -> httpx.Response:
    filled = CONVERTOR.sub(r"{\1}", path).format_map(world.params)
    if path.startswith("/api/users/{name}"):
        filled = path.replace("{name}", "victim")
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as http:
        bodies = {
            "/api/users": {"name": "x" + uuid.uuid4().hex[:8]},
            "/api/users/me/tokens": {"scopes": ["kernels"]},
        }
        body = bodies.get(path) if method == "POST" else None
        return await http.request(method, filled, headers=world.headers[role], json=body)


@pytest.mark.parametrize(("method", "path", "guarded"), cases(), ids=lambda v: str(v)[:40])
async def test_every_route_for_every_caller(
    world: World, method: str, path: str, guarded: Guarded
) -> None:
    for role in ROLES:
        got = await answer(world, method, path, role)
        if allowed(role, path, guarded):
            assert got.status_code != 403, (role, got.text)
        else:
            assert got.status_code == 403, (role, got.status_code, got.text)
    if (
        "{session_id}" in path and method != "PATCH"
    ):  # another account's session is not found, as in Jupyter
        for role in STRANGERS:
            assert (await answer(world, method, path, role)).status_code == 404


async def test_tokens_are_ones_own_and_scopes_do_not_grow(world: World) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url=HUB
    ) as http:
        user = world.headers["user"]
        made = await http.post("/api/users/me/tokens", json={"scopes": ["kernels"]}, headers=user)
        assert made.status_code == 201 and made.json()["token"].startswith("chu_")
        listed = (await http.get("/api/users/me/tokens", headers=user)).json()["api_tokens"]
        assert made.json()["id"] in [t["id"] for t in listed]
        assert all("token" not in t for t in listed)
        narrow = {"Authorization": f"token {made.json()['token']}"}
        assert (await http.get("/api/kernels", headers=narrow)).status_code == 200
        grown = await http.post("/api/users/me/tokens", json={"scopes": ["files"]}, headers=narrow)
        assert grown.status_code == 403
        admin = await http.post("/api/users/me/tokens", json={"scopes": ["admin"]}, headers=user)
        assert admin.status_code == 403
        other = world.headers["other"]
        theirs = await http.delete(f"/api/users/me/tokens/{made.json()['id']}", headers=other)
        assert theirs.status_code == 404
        mine = await http.delete(f"/api/users/me/tokens/{made.json()['id']}", headers=user)
        assert mine.status_code == 204
        assert (await http.get("/api/kernels", headers=narrow)).status_code == 403


@pytest.fixture
async def hub_client(tmp_path: Path) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = in_process_hub(tmp_path, login_attempts=3)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as http:
        yield app, http


async def test_an_admin_reset_ends_logins_and_tokens(
    hub_client: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, http = hub_client
    token = token_of(app, "ada", False, ("kernels",))
    ada = {"Authorization": f"token {token}"}
    assert (await http.get("/api/kernels", headers=ada)).status_code == 200
    root = {"Authorization": f"token {TOKEN}"}
    reset = await http.post("/api/users/ada/reset", headers=root)
    assert reset.status_code == 200 and reset.json()["name"] == "ada"
    assert (await http.get("/api/kernels", headers=ada)).status_code == 403
    token = token_of(app, "ada", False, ("kernels",))
    assert (await http.post("/api/users/ada/disable", headers=root)).json()["disabled"]
    assert (
        await http.get("/api/kernels", headers={"Authorization": f"token {token}"})
    ).status_code == 403
