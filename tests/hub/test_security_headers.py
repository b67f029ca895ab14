"""Security headers on every response: CSP, nosniff, Referrer-Policy (hub/security_headers.py),
and the output frame's own policy (hub/output_frame.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cellhub.config import ConfigError, load_config
from tests.conftest import RunningHub
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

AUTH = {"Authorization": f"token {TOKEN}"}


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_protected(response: httpx.Response) -> dict[str, list[str]]:
    assert response.headers["x-content-type-options"] == "nosniff", response.url
    assert response.headers["referrer-policy"] == "no-referrer", response.url
    return directives(response.headers["content-security-policy"])


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url=HUB, headers=AUTH) as client:
        yield client


async def test_pages_run_only_the_hubs_own_scripts(client: httpx.AsyncClient) -> None:
    shared = (await client.post("/api/permalinks", json={"code": "1"})).json()["id"]
    for path in ("/", f"/s/{shared}", "/s/nothere"):
        policy = assert_protected(await client.get(path))
        assert policy["script-src"] == ["'self'"], path
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert policy["frame-src"] == ["'self'"]
        assert "'unsafe-inline'" not in policy["default-src"]
        assert set(policy["connect-src"]) == {"'self'", "ws://hub.test", "wss://hub.test"}


async def test_api_and_static_files_load_nothing(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/permalinks/nothere"),
        await client.get("/api/kernels", headers={"Authorization": ""}),
        await client.get("/static/app.js"),
        await client.get("/static/app.css"),
    ):
        assert response.status_code in (200, 403, 404)
        assert assert_protected(response)["default-src"] == ["'none'"]


async def test_frame_ancestors_come_from_the_setting(tmp_path: Path) -> None:
    app = in_process_hub(tmp_path, frame_ancestors=["'self'", "https://lms.example.org"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB) as http:
        policy = assert_protected(await http.get("/", headers=AUTH))
    assert policy["frame-ancestors"] == ["'self'", "https://lms.example.org"]


def test_frame_ancestors_cannot_smuggle_directives() -> None:
    env = {"CELLHUB_FRAME_ANCESTORS": "https://a.example; script-src *"}
    with pytest.raises(ConfigError, match="frame_ancestors"):
        load_config(environ=env)


async def test_a_forged_host_adds_no_directive(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers={"Host": "evil;script-src *"})
    assert "script-src *" not in page.headers["content-security-policy"]


async def test_output_frame_is_sandboxed_and_lets_outputs_run(client: httpx.AsyncClient) -> None:
    frame = await client.get("/output-frame", headers={"Authorization": ""})
    assert frame.status_code == 200 and "cellhubFrameReady" in frame.text
    policy = assert_protected(frame)
    assert policy["sandbox"] == ["allow-scripts"]
    assert {"*", "'unsafe-inline'"} <= set(policy["default-src"])
    assert "frame-ancestors" not in policy


@pytest.mark.sqlite_only("headers, not the database")
async def test_real_hub_sends_the_headers(cellhub_server: RunningHub) -> None:
    auth = {"Authorization": f"token {cellhub_server.token}"}
    async with httpx.AsyncClient(base_url=cellhub_server.url, headers=auth) as http:
        assert_protected(await http.get("/api/kernels"))
        assert_protected(await http.get("/static/app.js"))
        page = await http.get(f"/?token={cellhub_server.token}", follow_redirects=True)
        assert page.status_code == 200
        assert assert_protected(page)["script-src"] == ["'self'"]
