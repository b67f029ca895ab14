"""Permalinks, CORS and the anonymous policy, against a real ``cellhub serve``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from cellhub.db import permalinks as permalinks_db
from cellhub.db.database import make_engine, upgrade
from cellhub.db.permalinks import ALPHABET, PermalinkRepository
from tests.conftest import RunningHub, start_cellhub
from tests.hub.databases import database_env
from tests.kernel_client import KernelClient

pytestmark = pytest.mark.both_databases

ALLOWED = "http://allowed.example"
ANONYMOUS = {
    "CELLHUB_ALLOW_ANONYMOUS": "true",
    "CELLHUB_CORS_ORIGINS": ALLOWED,
    "CELLHUB_ANONYMOUS_KERNELS_PER_CLIENT": "2",
    "CELLHUB_PERMALINK_RATE": "3",
}


@pytest.fixture(scope="module")
def anonymous_server(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[RunningHub]:
    env = {**ANONYMOUS, **database_env(module_database_url)}
    server = start_cellhub(tmp_path_factory.mktemp("anonymous"), env=env)
    yield server
    server.stop()


def client(server: RunningHub, address: str = "127.0.0.1", token: bool = True) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address`` (any of 127.0.0.0/8)."""
    headers = {"Authorization": f"token {server.token}"} if token else {}
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.url, headers=headers, transport=transport, timeout=30)


def page_config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="cellhub-config" type="application/json">(.*?)</script>', html)
    assert match, html
    return json.loads(match.group(1))  # type: ignore[no-any-return]


async def test_create_open_and_deduplicate(cellhub_server: RunningHub) -> None:
    async with client(cellhub_server) as http:
        made = await http.post("/api/permalinks", json={"code": "print(6 * 7)"})
        assert made.status_code == 201, made.text
        link = made.json()
        assert len(link["id"]) >= 6 and set(link["id"]) <= set(ALPHABET)
        assert link["url"] == f"{cellhub_server.url}s/{link['id']}"
        again = await http.post("/api/permalinks", json={"code": "print(6 * 7)"})
        assert again.json()["id"] == link["id"]
        other = await http.post(
            "/api/permalinks", json={"code": "print(6 * 7)", "interact_state": {"n": 1}}
        )
        assert other.json()["id"] != link["id"]

        got = await http.get(f"/api/permalinks/{link['id']}")
        assert got.status_code == 200
        body = got.json()
        assert body["code"] == "print(6 * 7)" and body["kernel_name"] == "python3"
        assert body["views"] == 1 and body["last_access"]

        page = await http.get(f"/s/{link['id']}?run=1")
        assert page.status_code == 200
        shared = page_config(page.text)["shared"]
        assert shared == {
            "id": link["id"],
            "code": "print(6 * 7)",
            "kernelName": "python3",
            "interactState": None,
            "run": True,
        }
        third = await http.get(f"/api/permalinks/{link['id']}")
        assert third.json()["views"] == 3


async def test_bad_input(cellhub_server: RunningHub) -> None:
    async with client(cellhub_server) as http:
        too_big = await http.post("/api/permalinks", json={"code": "x" * (64 * 1024 + 1)})
        assert too_big.status_code == 413 and "limit" in too_big.json()["message"]
        assert (await http.post("/api/permalinks", json={"kode": "1"})).status_code == 400
        assert (await http.post("/api/permalinks", content=b"{")).status_code == 400
        missing = await http.get("/api/permalinks/zzzzzzzz")
        assert missing.status_code == 404 and "zzzzzzzz" in missing.json()["message"]
        page = await http.get("/s/zzzzzzzz")
        assert page.status_code == 404 and "No such link" in page.text
    async with client(cellhub_server, token=False) as anonymous:
        assert (await anonymous.post("/api/permalinks", json={"code": "1"})).status_code == 403
        assert (await anonymous.get("/s/zzzzzzzz")).status_code == 403


async def test_creation_is_rate_limited_per_client(anonymous_server: RunningHub) -> None:
    async with client(anonymous_server, "127.0.0.31") as http:
        codes = [
            (await http.post("/api/permalinks", json={"code": f"{i}"})).status_code
            for i in range(4)
        ]
        assert codes == [201, 201, 201, 429]
        refused = await http.post("/api/permalinks", json={"code": "5"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    async with client(anonymous_server, "127.0.0.32") as other:
        assert (await other.post("/api/permalinks", json={"code": "5"})).status_code == 201


@pytest.mark.sqlite_only("a hub of its own, restarted; the other tests keep links on PostgreSQL")
def test_links_survive_a_restart(tmp_path: Path) -> None:
    server = start_cellhub(tmp_path / "data")
    try:
        made = httpx.post(
            f"{server.url}api/permalinks",
            json={"code": "kept = True"},
            headers={"Authorization": f"token {server.token}"},
        )
        link_id = made.json()["id"]
    finally:
        server.stop()
    server = start_cellhub(tmp_path / "data", env={"CELLHUB_TOKEN": server.token})
    try:
        headers = {"Authorization": f"token {server.token}"}
        got = httpx.get(f"{server.url}api/permalinks/{link_id}", headers=headers)
        assert got.status_code == 200 and got.json()["code"] == "kept = True"
        page = httpx.get(f"{server.url}s/{link_id}", headers=headers)
        assert page.status_code == 200 and "kept = True" in page.text
    finally:
        server.stop()


async def test_anonymous_clients_use_only_their_own_kernels(anonymous_server: RunningHub) -> None:
    async with (
        client(anonymous_server, "127.0.0.41", token=False) as alice,
        client(anonymous_server, "127.0.0.42", token=False) as bob,
        client(anonymous_server) as owner,
    ):
        assert (await alice.get("/api/kernelspecs")).status_code == 200
        mine = (await alice.post("/api/kernels", json={"name": "python3"})).json()["id"]
        second = (await alice.post("/api/kernels")).json()["id"]
        refused = await alice.post("/api/kernels")
        assert refused.status_code == 429 and "anonymous" in refused.json()["message"]
        theirs = (await bob.post("/api/kernels")).json()["id"]
        private = (await owner.post("/api/kernels")).json()["id"]

        listed = {k["id"] for k in (await alice.get("/api/kernels")).json()}
        assert listed == {mine, second}
        assert {mine, second, theirs, private} <= {
            k["id"] for k in (await owner.get("/api/kernels")).json()
        }
        assert (await alice.get(f"/api/kernels/{mine}")).status_code == 200
        assert (await alice.post(f"/api/kernels/{mine}/interrupt")).status_code == 204
        for other in (theirs, private):
            assert (await alice.get(f"/api/kernels/{other}")).status_code == 403
            assert (await alice.delete(f"/api/kernels/{other}")).status_code == 403
            assert (await alice.post(f"/api/kernels/{other}/restart")).status_code == 403
        assert (await alice.delete(f"/api/kernels/{second}")).status_code == 204
        assert (await alice.post("/api/kernels")).status_code == 201

        ws_url = anonymous_server.url.replace("http", "ws", 1)
        socket = await websockets.connect(
            f"{ws_url}api/kernels/{mine}/channels",
            origin=websockets.Origin(ALLOWED),
            local_addr=("127.0.0.41", 0),
        )
        async with KernelClient(socket) as kernel:
            reply = await kernel.execute("print(40 + 2)")
            assert reply.stream_text() == "42\n", reply.explain()
        for kernel_id, address, origin in [
            (theirs, "127.0.0.41", ALLOWED),
            (mine, "127.0.0.41", "http://evil.example"),
        ]:
            with pytest.raises(websockets.exceptions.WebSocketException):
                async with websockets.connect(
                    f"{ws_url}api/kernels/{kernel_id}/channels",
                    origin=websockets.Origin(origin),
                    local_addr=(address, 0),
                ) as refused_socket:
                    await asyncio.wait_for(refused_socket.recv(), 5)


async def test_cors(anonymous_server: RunningHub) -> None:
    async with client(anonymous_server, "127.0.0.51", token=False) as http:
        preflight = await http.options(
            "/api/kernels",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        made = await http.post(
            "/api/permalinks", json={"code": "1 + 1"}, headers={"Origin": ALLOWED}
        )
        assert made.status_code == 201
        assert made.headers["access-control-allow-origin"] == ALLOWED
        evil = await http.post("/api/kernels", json={}, headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        assert "access-control-allow-origin" not in evil.headers
        page = await http.get("/")
        assert page.status_code == 200
        config = page_config(page.text)
        assert "token" not in config and config["anonymous"] is True
        assert anonymous_server.token not in page.text


@pytest.mark.sqlite_only("a hub of its own, timing kernel lifetimes (the worker ends them)")
async def test_anonymous_kernels_end_after_their_lifetime(tmp_path: Path) -> None:
    env = {
        "CELLHUB_ALLOW_ANONYMOUS": "1",
        "CELLHUB_ANONYMOUS_MAX_LIFETIME": "2",
        "CELLHUB_CULL_INTERVAL": "0.25",
    }
    server = start_cellhub(tmp_path / "data", env=env)
    try:
        async with client(server, token=False) as anonymous, client(server) as owner:
            short = (await anonymous.post("/api/kernels")).json()["id"]
            long = (await owner.post("/api/kernels")).json()["id"]
            for _ in range(60):
                await asyncio.sleep(0.25)
                if (await owner.get(f"/api/kernels/{short}")).status_code == 404:
                    break
            else:
                pytest.fail("the anonymous kernel outlived its maximum lifetime")
            assert (await owner.get(f"/api/kernels/{long}")).status_code == 200
    finally:
        server.stop()


def test_repository_checks_ids_for_collisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    repo = PermalinkRepository(engine)
    ids = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    monkeypatch.setattr(permalinks_db, "new_id", lambda: next(ids))
    assert repo.store("1", "python3") == "AAAAAAAA"
    assert repo.store("2", "python3") == "BBBBBBBB"  # AAAAAAAA was taken: drawn again
    assert repo.store("1", "python3") == "AAAAAAAA"  # same content, same id
    shared = repo.view("BBBBBBBB")
    assert shared is not None and shared.code == "2" and shared.views == 1
    assert repo.view("no/such") is None and repo.view("CCCCCCCC") is None
    engine.dispose()


async def test_anonymous_starts_at_the_same_moment_stay_within_the_limit(
    anonymous_server: RunningHub,
) -> None:
    async with client(anonymous_server, "127.0.0.61", token=False) as anonymous:
        answers = await asyncio.gather(*(anonymous.post("/api/kernels") for _ in range(6)))
        started = [r for r in answers if r.status_code == 201]
        refused = [r for r in answers if r.status_code == 429]
        assert (len(started), len(refused)) == (2, 4), [r.text for r in answers]
        assert "anonymous clients may run 2 kernels at once" in refused[0].json()["message"]
        for r in started:
            assert (await anonymous.delete(f"/api/kernels/{r.json()['id']}")).status_code == 204
