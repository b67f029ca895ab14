"""Jupyter Server's own REST tests, ported to cellhub for the paths the two share.

Jupyter clients (JupyterLab, Thebe, ``jupyter server --gateway-url``) were written against
Jupyter Server, so its test suite says what they rely on. The assertions here are those of
jupyter_server's tests/services/{kernels,kernelspecs,sessions,api}/test_api.py — status codes,
JSON shapes, ``Location`` headers, session and kernel models — run against a real
``cellhub serve``. Left out: what is Jupyter Server's own and no client reads (its exact
Content-Security-Policy, ``/api/resolvePath``, ``/api/me``, the pre-5.0 ``notebook`` session
body, the sample kernelspecs its fixtures install).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningHub
from tests.kernel_client import Hub, KernelClient


@pytest.fixture
async def api(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """The hub's REST client; whatever a test leaves running is shut down after it."""
    yield hub.http
    for listing in ("/api/sessions", "/api/kernels"):
        for model in (await hub.http.get(listing)).json():
            await hub.http.delete(f"{listing}/{model['id']}")


async def created(api: httpx.AsyncClient, path: str, body: Any = None) -> dict[str, Any]:
    """POST ``body``; assert 201 and the ``Location`` Jupyter Server gives; return the model."""
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    model: dict[str, Any] = response.json()
    assert isinstance(model, dict)
    assert response.headers["Location"] == f"{path}/{model['id']}"
    return model


async def new_session(
    api: httpx.AsyncClient, path: str = "foo/nb1.ipynb", kind: str = "notebook", **kernel: Any
) -> dict[str, Any]:
    body = {"path": path, "type": kind, "kernel": {"name": None, "id": None, **kernel}}
    return await created(api, "/api/sessions", body)


def without_volatile(model: dict[str, Any]) -> dict[str, Any]:
    """A kernel model less what changes by itself (Jupyter Server's assert_kernel_equality)."""
    return {k: v for k, v in model.items() if k not in ("execution_state", "last_activity")}


def assert_same_session(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert (actual["id"], actual["path"], actual["type"]) == (
        expected["id"],
        expected["path"],
        expected["type"],
    )
    assert without_volatile(actual["kernel"]) == without_volatile(expected["kernel"])


async def test_status_of_an_idle_server(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/status")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    status = response.json()
    assert sorted(status) == ["connections", "kernels", "last_activity", "started"]
    assert (status["connections"], status["kernels"]) == (0, 0)
    assert status["last_activity"].endswith("Z") and status["started"].endswith("Z")


async def test_no_kernels(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/kernels")
    assert (response.status_code, response.json()) == (200, [])


async def test_default_kernel(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/kernels")
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/kernels/{response.json()['id']}"


async def test_main_kernel_handler(api: httpx.AsyncClient) -> None:
    kernel1 = await created(api, "/api/kernels", {"name": "python3"})
    listed = (await api.get("/api/kernels")).json()
    assert [(k["id"], k["name"]) for k in listed] == [(kernel1["id"], kernel1["name"])]
    kernel2 = await created(api, "/api/kernels", {"name": "python3"})
    assert len((await api.get("/api/kernels")).json()) == 2
    interrupted = await api.post(f"/api/kernels/{kernel2['id']}/interrupt")
    assert interrupted.status_code == 204
    restarted = await api.post(f"/api/kernels/{kernel2['id']}/restart")
    assert restarted.status_code == 200
    assert (restarted.json()["id"], restarted.json()["name"]) == (kernel2["id"], kernel2["name"])
    await created(api, "/api/kernels", {"name": "python3", "path": "/foo"})


async def test_kernel_handler(api: httpx.AsyncClient) -> None:
    kernel_id = (await created(api, "/api/kernels", {"name": "python3"}))["id"]
    response = await api.get(f"/api/kernels/{kernel_id}")
    assert response.status_code == 200 and response.json()["id"] == kernel_id
    assert (await api.get("/api/kernels/111-111-111-111-111")).status_code == 404
    assert (await api.delete(f"/api/kernels/{kernel_id}")).status_code == 204
    assert (await api.get("/api/kernels")).json() == []
    assert (await api.delete("/api/kernels/111-111-111-111-111")).status_code == 404


async def test_kernel_startup_error(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/kernels", json={"name": "bad"})
    assert 400 <= response.status_code < 600


async def test_connection_count(api: httpx.AsyncClient, cellhub_server: RunningHub) -> None:
    kernel_id = (await created(api, "/api/kernels", {"name": "python3"}))["id"]

    async def connections() -> int:
        return int((await api.get(f"/api/kernels/{kernel_id}")).json()["connections"])

    assert await connections() == 0
    client = await KernelClient.connect(cellhub_server.url, cellhub_server.token, kernel_id)
    assert await connections() == 1
    await client.close()
    for _ in range(100):
        if await connections() == 0:
            break
        await asyncio.sleep(0.05)
    assert await connections() == 0


async def test_list_kernelspecs(api: httpx.AsyncClient) -> None:
    model = (await api.get("/api/kernelspecs")).json()
    assert model["default"] == "python3"
    assert isinstance(model["kernelspecs"], dict)
    assert any(
        s["name"] == "python3" and s["spec"]["display_name"].startswith("Python")
        for s in model["kernelspecs"].values()
    )


async def test_get_kernelspec(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/kernelspecs/python3")
    assert response.status_code == 200, response.text
    model = response.json()
    assert model["name"] == "python3"
    assert isinstance(model["spec"], dict) and isinstance(model["resources"], dict)
    for url in model["resources"].values():
        assert (await api.get(url)).status_code == 200, url


async def test_missing_kernelspec_and_resource(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/kernelspecs/nonexistant")).status_code == 404
    assert (await api.get("/kernelspecs/nonexistant/resource.txt")).status_code == 404
    assert (await api.get("/kernelspecs/python3/nonexistant.txt")).status_code == 404


async def test_create_session(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/sessions")).json() == []
    session = await new_session(api)
    assert (session["path"], session["type"]) == ("foo/nb1.ipynb", "notebook")
    listed = (await api.get("/api/sessions")).json()
    assert len(listed) == 1
    assert_same_session(listed[0], session)
    assert_same_session((await api.get(f"/api/sessions/{session['id']}")).json(), session)


async def test_create_session_with_a_bad_kernel_name(api: httpx.AsyncClient) -> None:
    body = {"path": "foo/nb1.ipynb", "type": "notebook", "kernel": {"name": "bad"}}
    assert 400 <= (await api.post("/api/sessions", json=body)).status_code < 600


@pytest.mark.parametrize(("path", "kind"), [("foo/nb1.py", "file"), ("foo/abc123", "console")])
async def test_create_session_of_other_types(api: httpx.AsyncClient, path: str, kind: str) -> None:
    session = await new_session(api, path, kind)
    assert (session["path"], session["type"]) == (path, kind)


async def test_create_session_with_kernel_id(api: httpx.AsyncClient) -> None:
    kernel = await created(api, "/api/kernels")
    session = await new_session(api, id=kernel["id"])
    assert session["kernel"]["id"] == kernel["id"]
    listed = (await api.get("/api/sessions")).json()
    assert len(listed) == 1
    assert_same_session(listed[0], session)


async def test_delete_session(api: httpx.AsyncClient) -> None:
    session = await new_session(api)
    assert (await api.delete(f"/api/sessions/{session['id']}")).status_code == 204
    assert (await api.get("/api/sessions")).json() == []
    assert (await api.get(f"/api/sessions/{session['id']}")).status_code == 404


@pytest.mark.parametrize(("key", "value"), [("path", "nb2.ipynb"), ("type", "console")])
async def test_modify_session(api: httpx.AsyncClient, key: str, value: str) -> None:
    session = await new_session(api)
    changed = (await api.patch(f"/api/sessions/{session['id']}", json={key: value})).json()
    assert (changed["id"], changed[key]) == (session["id"], value)


async def test_modify_session_kernel_name(api: httpx.AsyncClient) -> None:
    before = await new_session(api)
    body = {"kernel": {"name": before["kernel"]["name"]}}
    after = (await api.patch(f"/api/sessions/{before['id']}", json=body)).json()
    assert (after["id"], after["path"], after["type"]) == (
        before["id"],
        before["path"],
        before["type"],
    )
    assert after["kernel"]["id"] != before["kernel"]["id"]
    kernels = (await api.get("/api/kernels")).json()
    assert [without_volatile(k) for k in kernels] == [without_volatile(after["kernel"])]


async def test_modify_session_kernel_id(api: httpx.AsyncClient) -> None:
    before = await new_session(api)
    kernel = await created(api, "/api/kernels")
    body = {"kernel": {"id": kernel["id"], "name": "foo"}}
    after = (await api.patch(f"/api/sessions/{before['id']}", json=body)).json()
    assert after["id"] == before["id"]
    assert after["kernel"]["id"] == kernel["id"] != before["kernel"]["id"]
    kernels = (await api.get("/api/kernels")).json()
    assert [k["id"] for k in kernels] == [kernel["id"]]
