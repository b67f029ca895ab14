"""The kernels REST API, against a real cellhub, as Jupyter Server answers it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningHub
from tests.kernel_client import Hub

pytestmark = pytest.mark.both_databases


async def test_api_root_and_kernelspecs(hub: Hub) -> None:
    root = await hub.http.get("/api")
    assert root.status_code == 200 and "version" in root.json()
    specs = (await hub.http.get("/api/kernelspecs")).json()
    assert specs["default"] == "python3"
    spec = specs["kernelspecs"]["python3"]
    assert spec["name"] == "python3" and spec["spec"]["language"] == "python"


async def test_a_kind_no_worker_offers_is_no_kernel_spec(hub: Hub) -> None:
    """The tests' cellhub offers python3 alone (tests/conftest.py), Sage installed or not."""
    assert list((await hub.http.get("/api/kernelspecs")).json()["kernelspecs"]) == ["python3"]
    assert (await hub.http.get("/api/kernelspecs/sage")).status_code == 404
    started = await hub.http.post("/api/kernels", json={"name": "sage"})
    assert started.status_code == 404 and "sage" in started.json()["message"]


async def test_kernel_lifecycle(hub: Hub) -> None:
    created = await hub.http.post("/api/kernels", json={"name": "python3"})
    assert created.status_code == 201
    model = created.json()
    assert set(model) == {"id", "name", "last_activity", "execution_state", "connections"}
    assert created.headers["location"] == f"/api/kernels/{model['id']}"
    kernel_id = model["id"]

    listed = (await hub.http.get("/api/kernels")).json()
    assert kernel_id in [k["id"] for k in listed]
    got = await hub.http.get(f"/api/kernels/{kernel_id}")
    assert got.status_code == 200 and got.json()["execution_state"] in ("idle", "starting")

    assert (await hub.http.post(f"/api/kernels/{kernel_id}/interrupt")).status_code == 204
    restarted = await hub.http.post(f"/api/kernels/{kernel_id}/restart")
    assert restarted.status_code == 200 and restarted.json()["id"] == kernel_id

    assert (await hub.http.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    assert (await hub.http.get(f"/api/kernels/{kernel_id}")).status_code == 404
    assert kernel_id not in [k["id"] for k in (await hub.http.get("/api/kernels")).json()]


async def test_post_without_body_starts_default_kernel(hub: Hub) -> None:
    created = await hub.http.post("/api/kernels")
    assert created.status_code == 201 and created.json()["name"] == "python3"
    await hub.http.delete(f"/api/kernels/{created.json()['id']}")


async def test_unknown_kernel_is_404(hub: Hub) -> None:
    for method, path in [
        ("GET", "/api/kernels/nope"),
        ("DELETE", "/api/kernels/nope"),
        ("POST", "/api/kernels/nope/interrupt"),
        ("POST", "/api/kernels/nope/restart"),
    ]:
        response = await hub.http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "message" in response.json()


async def test_unknown_kernel_name_is_404(hub: Hub) -> None:
    response = await hub.http.post("/api/kernels", json={"name": "cobol"})
    assert response.status_code == 404


async def test_bad_bodies(hub: Hub) -> None:
    assert (await hub.http.post("/api/kernels", content=b"{not json")).status_code == 400
    assert (await hub.http.post("/api/kernels", content=b"[1, 2]")).status_code == 400
    huge = await hub.http.post("/api/kernels", content=b"x" * (2 * 2**20))
    assert huge.status_code == 413 and "limit" in huge.json()["message"]


async def test_token_required(cellhub_server: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=cellhub_server.url) as anonymous:
        assert (await anonymous.get("/api/kernels")).status_code == 403
        wrong = {"Authorization": "token wrong"}
        assert (await anonymous.get("/api/kernels", headers=wrong)).status_code == 403
        assert (await anonymous.post("/api/kernels", headers=wrong)).status_code == 403
        assert (
            await anonymous.get(f"/api/kernels?token={cellhub_server.token}")
        ).status_code == 200
        bearer = {"Authorization": f"Bearer {cellhub_server.token}"}
        assert (await anonymous.get("/api/kernels", headers=bearer)).status_code == 200


async def test_page_sets_login_cookie(cellhub_server: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=cellhub_server.url) as browser:
        assert (await browser.get("/")).status_code == 403
        opened = await browser.get(f"/?token={cellhub_server.token}", follow_redirects=True)
        assert opened.status_code == 200
        assert (await browser.get("/api/kernels")).status_code == 200


def test_a_script_with_only_websockets_can_run_code(cellhub_server: RunningHub) -> None:
    script = Path(__file__).resolve().parents[2] / "examples" / "run_code.py"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            cellhub_server.url,
            cellhub_server.token,
            "print('hi'); 6 * 7",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n42\n"
