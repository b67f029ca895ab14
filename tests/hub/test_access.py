"""Who may call which route (hub/access.py), and how the API checks what it is sent: in
process, no worker, milliseconds a request.

The real-process tests (test_kernels_api.py, test_permalinks.py, test_sessions_api.py,
test_websocket.py) check the same rules end to end, with kernels that run.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Message

from cellhub.hub.access import Access
from cellhub.hub.app import hub_routes
from cellhub.hub.kernels import KernelService
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

A_KERNEL = str(uuid.uuid4())
AUTH = {"Authorization": f"token {TOKEN}"}
OWN_ORIGIN = {"Origin": HUB}
ELSEWHERE = {"Origin": "http://evil.example"}
LMS = "https://lms.example"

#: The route table: every route and the access it declares.
TABLE = {
    "GET /api": Access.ANYONE,
    "GET /api/openapi.json": Access.ANYONE,
    "GET /api/kernels": Access.ANONYMOUS,
    "POST /api/kernels": Access.ANONYMOUS,
    "GET /api/kernels/{kernel_id}": Access.ANONYMOUS,
    "DELETE /api/kernels/{kernel_id}": Access.ANONYMOUS,
    "POST /api/kernels/{kernel_id}/interrupt": Access.ANONYMOUS,
    "POST /api/kernels/{kernel_id}/restart": Access.ANONYMOUS,
    "POST /api/kernels/{kernel_id}/files": Access.USER,
    "GET /files/{path:path}": Access.USER,
    "GET /api/cloud/remotes": Access.USER,
    "PUT /api/cloud/remotes/{name}": Access.USER,
    "DELETE /api/cloud/remotes/{name}": Access.USER,
    "POST /api/cloud/remotes/{name}/pull": Access.USER,
    "POST /api/cloud/remotes/{name}/push": Access.USER,
    "GET /api/kernelspecs": Access.ANONYMOUS,
    "GET /api/kernelspecs/{name}": Access.ANONYMOUS,
    "GET /kernelspecs/{name}/{file}": Access.ANYONE,
    "GET /api/sessions": Access.ANONYMOUS,
    "POST /api/sessions": Access.ANONYMOUS,
    "GET /api/sessions/{session_id}": Access.ANONYMOUS,
    "PATCH /api/sessions/{session_id}": Access.ANONYMOUS,
    "DELETE /api/sessions/{session_id}": Access.ANONYMOUS,
    "GET /api/status": Access.ADMIN,
    "GET /api/workers": Access.ADMIN,
    "POST /api/workers/drain": Access.ADMIN,
    "POST /api/workers/activate": Access.ADMIN,
    "POST /api/workers/spares": Access.ADMIN,
    "GET /admin": Access.ADMIN,
    "GET /api/admin/kernels": Access.ADMIN,
    "GET /api/admin/errors": Access.ADMIN,
    "GET /api/health": Access.ANYONE,
    "GET /api/health/live": Access.ANYONE,
    "GET /metrics": Access.ADMIN,
    "WEBSOCKET /api/kernels/{kernel_id}/channels": Access.ANONYMOUS,
    "GET /": Access.ANONYMOUS,
    "POST /api/permalinks": Access.ANONYMOUS,
    "GET /api/permalinks/{permalink_id}": Access.ANONYMOUS,
    "GET /s/{permalink_id}": Access.ANONYMOUS,
    "GET /output-frame": Access.ANYONE,
    "GET /oauth/{provider}/login": Access.ANYONE,
    "GET /oauth/{provider}/callback": Access.ANYONE,
    "GET /api/users/me": Access.USER,
    "GET /api/users/me/tokens": Access.USER,
    "POST /api/users/me/tokens": Access.USER,
    "DELETE /api/users/me/tokens/{token_id}": Access.USER,
    "GET /api/users": Access.ADMIN,
    "POST /api/users": Access.ADMIN,
    "POST /api/users/{name}/reset": Access.ADMIN,
    "POST /api/users/{name}/disable": Access.ADMIN,
    "POST /api/users/{name}/enable": Access.ADMIN,
    "GET /login": Access.ANYONE,
    "POST /login": Access.ANYONE,
    "POST /logout": Access.ANYONE,
    "GET /signup": Access.ANYONE,
    "POST /signup": Access.ANYONE,
    "POST /api/users/invitations": Access.ADMIN,
    "MOUNT /static": Access.ANYONE,
    "GET /api/contents/{path:path}/checkpoints": Access.USER,
    "POST /api/contents/{path:path}/checkpoints": Access.USER,
    "POST /api/contents/{path:path}/checkpoints/{checkpoint_id}": Access.USER,
    "DELETE /api/contents/{path:path}/checkpoints/{checkpoint_id}": Access.USER,
    "GET /api/worksheets/history/{path:path}": Access.USER,
    "GET /api/worksheets/versions/{number:int}/{path:path}": Access.USER,
    "POST /api/worksheets/restore/{number:int}/{path:path}": Access.USER,
    **{
        f"{method} {path}": Access.USER
        for path in ("/api/contents", "/api/contents/{path:path}")
        for method in ("GET", "PUT", "POST", "PATCH", "DELETE")
    },
}


def label(route: BaseRoute) -> str:
    """``METHOD /path`` (HEAD left out: it goes with GET)."""
    if isinstance(route, WebSocketRoute):
        return f"WEBSOCKET {route.path}"
    if isinstance(route, Mount):
        return f"MOUNT {route.path}"
    assert isinstance(route, Route)
    methods = sorted((route.methods or set()) - {"HEAD"})
    return f"{','.join(methods)} {route.path}"


def http_routes(*levels: Access) -> list[tuple[str, str]]:
    """(method, path with a kernel id for every parameter) of the HTTP routes at ``levels``."""
    found = []
    for entry, access in TABLE.items():
        method, path = entry.split(" ")
        if access in levels and method not in ("WEBSOCKET", "MOUNT"):
            found.append((method, path.format_map(dict.fromkeys(PARAMS, A_KERNEL))))
    return found


PARAMS = ("kernel_id", "name", "file", "session_id", "permalink_id", "token_id", "provider")


@pytest.fixture(scope="module")
def closed_hub(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Starlette:
    """A hub without anonymous use, shared by the tests that change nothing in it."""
    return in_process_hub(tmp_path_factory.mktemp("closed"), database_url=module_database_url)


@pytest.fixture(scope="module")
def open_hub(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Starlette:
    """A hub open to anonymous use, from its own origin and one other."""
    return in_process_hub(
        tmp_path_factory.mktemp("open"),
        allow_anonymous=True,
        cors_origins=[LMS],
        database_url=module_database_url,
    )


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB)


def kernel_of(app: Starlette, owner: str) -> str:
    """A kernel the database records for ``owner`` (no worker runs it)."""
    kernels: KernelService = app.state.kernels
    kernel_id = str(uuid.uuid4())
    kernels.repository.add(kernel_id, "python3", "gone.example:1", owner)
    return kernel_id


async def websocket_answer(app: Starlette, path: str, headers: dict[str, str]) -> Message:
    """The hub's first message to a WebSocket handshake: a close, or an HTTP answer."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"hub.test")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("hub.test", 80),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]


def test_every_route_declares_its_access() -> None:
    assert {label(guarded.route): guarded.access for guarded in hub_routes()} == TABLE


@pytest.mark.parametrize(("method", "path"), http_routes(Access.ANONYMOUS, Access.ADMIN))
async def test_without_the_token_the_api_and_pages_refuse(
    closed_hub: Starlette, method: str, path: str
) -> None:
    async with client(closed_hub) as http:
        refused = await http.request(method, path)
        assert refused.status_code == 403
        if path.startswith("/api"):
            assert refused.json() == {
                "message": "Forbidden: missing or wrong token",
                "reason": None,
            }
        else:
            assert "Log in to open this link" in refused.text
        wrong = await http.request(method, path, headers={"Authorization": "token wrong"})
        assert wrong.status_code == 403
        allowed = await http.request(method, path, headers=AUTH)
        assert allowed.status_code != 403, allowed.text


@pytest.mark.parametrize(
    "path",
    [
        "/api",
        "/api/openapi.json",
        "/api/health/live",
        "/output-frame",
        "/kernelspecs/python3/logo-32x32.png",
    ],
)
async def test_public_routes_need_nothing(closed_hub: Starlette, path: str) -> None:
    async with client(closed_hub) as http:
        assert (await http.get(path)).status_code == 200


async def test_requests_no_route_takes(closed_hub: Starlette) -> None:
    """Only a token holder learns that an API path or method is not there."""
    async with client(closed_hub) as http:
        for method, path in [("GET", "/api/nothing"), ("PUT", "/api/kernels"), ("GET", "/apix")]:
            assert (await http.request(method, path)).status_code == 403
        assert (await http.get("/api/nothing", headers=AUTH)).status_code == 404
        assert (await http.put("/api/kernels", headers=AUTH)).status_code == 405
        assert (await http.get("/api/")).status_code == 307
        assert (await http.get("/nothing")).json() == {"message": "Not found", "reason": None}


async def test_anonymous_clients_reach_only_their_own_kernels(open_hub: Starlette) -> None:
    mine = kernel_of(open_hub, "anonymous:127.0.0.1")
    theirs = kernel_of(open_hub, "anonymous:127.0.0.2")
    async with client(open_hub) as http:
        assert (await http.get("/")).status_code == 200
        assert (await http.get("/api/kernelspecs")).status_code == 200
        assert (await http.get("/api/kernels")).json() == []
        assert (await http.put("/api/kernels")).status_code == 405  # admitted; wrong method
        assert (await http.post("/api/kernels")).status_code == 503  # admitted; no worker
        assert (await http.get(f"/api/kernels/{mine}")).status_code == 404  # admitted
        for path in [f"/api/kernels/{theirs}", "/api/kernels/not-a-kernel"]:
            refused = await http.get(path)
            assert refused.status_code == 403
            assert (
                refused.json()["message"] == "anonymous clients may only use kernels they started"
            )
        assert (await http.post(f"/api/kernels/{theirs}/restart")).status_code == 403
        assert (await http.delete(f"/api/kernels/{theirs}")).status_code == 403
        assert (await http.get(f"/api/kernels/{theirs}", headers=AUTH)).status_code == 404
        assert (await http.get("/api/status")).status_code == 403
        lms = {"Origin": LMS}
        assert (await http.post("/api/permalinks", json={"code": "1"}, headers=lms)).is_success
        for origin in [ELSEWHERE, {"Origin": f"{LMS}.evil"}]:
            assert (await http.get("/api/kernelspecs", headers=origin)).status_code == 403


async def test_websockets_are_refused_before_the_handshake(
    closed_hub: Starlette, open_hub: Starlette
) -> None:
    closed = {"type": "websocket.close", "code": 1008, "reason": ""}
    path = f"/api/kernels/{A_KERNEL}/channels"
    assert await websocket_answer(closed_hub, path, OWN_ORIGIN) == closed
    assert (await websocket_answer(closed_hub, path, AUTH))["status"] == 404

    mine = kernel_of(open_hub, "anonymous:127.0.0.1")
    theirs = kernel_of(open_hub, "anonymous:127.0.0.2")
    assert await websocket_answer(open_hub, f"/api/kernels/{theirs}/channels", OWN_ORIGIN) == closed
    assert await websocket_answer(open_hub, f"/api/kernels/{mine}/channels", ELSEWHERE) == closed
    admitted = await websocket_answer(open_hub, f"/api/kernels/{mine}/channels", OWN_ORIGIN)
    assert admitted["type"] == "websocket.http.response.start" and admitted["status"] == 404


BAD_REQUESTS = [
    ("POST", "/api/kernels", b"{", "request body is not valid JSON"),
    ("POST", "/api/kernels", b"[]", "request body must be a JSON object"),
    ("POST", "/api/kernels", b'{"name": 3}', "'name' must be a string"),
    ("POST", "/api/sessions", b"", "No JSON data provided"),
    ("POST", "/api/sessions", b"[1]", "No JSON data provided"),
    ("POST", "/api/sessions", b'{"path": "a"}', "Missing field in JSON data: type"),
    ("POST", "/api/sessions", b'{"path": 1, "type": "x"}', "'path' must be a string"),
    ("POST", "/api/sessions", b'{"path": "a", "type": "x", "kernel": 1}', "'kernel' must be"),
    ("POST", "/api/permalinks", b"", "request body is not valid JSON"),
    ("POST", "/api/permalinks", b'{"code": 1}', "with a string field 'code'"),
    ("POST", "/api/permalinks", b'{"code": "\\u0000"}', "must not contain NUL"),
]


@pytest.mark.parametrize(("method", "path", "body", "message"), BAD_REQUESTS)
async def test_malformed_requests_answer_400(
    closed_hub: Starlette, method: str, path: str, body: bytes, message: str
) -> None:
    async with client(closed_hub) as http:
        answer = await http.request(method, path, content=body, headers=AUTH)
        assert answer.status_code == 400
        assert message in answer.json()["message"] and answer.json()["reason"] is None


async def test_budgets_and_sizes(tmp_path: Path) -> None:
    app = in_process_hub(tmp_path, max_body_size=100, permalink_max_code=10)
    app.state.kernel_starts.rate = app.state.kernel_starts.burst = 1
    async with client(app) as http:
        huge = await http.post("/api/permalinks", content=b"x" * 101, headers=AUTH)
        assert huge.status_code == 413 and "100-byte limit" in huge.json()["message"]
        code = await http.post("/api/permalinks", json={"code": "x" * 11}, headers=AUTH)
        assert code.status_code == 413
        assert (await http.post("/api/kernels", headers=AUTH)).status_code == 503
        again = await http.post("/api/kernels", headers=AUTH)
        assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
        assert again.json()["message"].startswith("too many kernel starts from this client")
