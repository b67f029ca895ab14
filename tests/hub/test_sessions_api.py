"""The rest of the kernel-facing API, as Jupyter Server serves it: ``/api/sessions`` (kept
in the database, owned like kernels), one kernel spec by name and its logos, ``/api/status``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningHub, start_cellhub
from tests.hub.databases import database_env
from tests.hub.test_permalinks import client
from tests.kernel_client import Hub, KernelClient

pytestmark = pytest.mark.both_databases

NOTEBOOK = {"path": "lesson.ipynb", "name": "lesson.ipynb", "type": "notebook"}


async def test_session_crud(hub: Hub) -> None:
    created = await hub.http.post("/api/sessions", json={**NOTEBOOK, "kernel": {"name": "python3"}})
    assert created.status_code == 201, created.text
    model = created.json()
    assert created.headers["Location"] == f"/api/sessions/{model['id']}"
    assert set(model) == {"id", "path", "name", "type", "kernel", "notebook"}
    assert model["notebook"] == {"path": "lesson.ipynb", "name": "lesson.ipynb"}
    assert set(model["kernel"]) == {"id", "name", "last_activity", "execution_state", "connections"}
    kernel_id = model["kernel"]["id"]
    assert (await hub.http.get(f"/api/kernels/{kernel_id}")).status_code == 200

    again = await hub.http.post("/api/sessions", json=NOTEBOOK)
    assert again.status_code == 201 and again.json()["id"] == model["id"]
    listed = (await hub.http.get("/api/sessions")).json()
    assert [s["id"] for s in listed if s["path"] == "lesson.ipynb"] == [model["id"]]
    one = await hub.http.get(f"/api/sessions/{model['id']}")
    assert one.status_code == 200 and one.json()["kernel"]["id"] == kernel_id

    renamed = await hub.http.patch(
        f"/api/sessions/{model['id']}", json={"path": "moved.py", "name": "moved", "type": "file"}
    )
    assert renamed.status_code == 200
    assert {k: renamed.json()[k] for k in ("path", "name", "type")} == {
        "path": "moved.py",
        "name": "moved",
        "type": "file",
    }
    assert "notebook" not in renamed.json()

    changed = await hub.http.patch(
        f"/api/sessions/{model['id']}", json={"kernel": {"name": "python3"}}
    )
    new_kernel = changed.json()["kernel"]["id"]
    assert changed.status_code == 200 and new_kernel != kernel_id
    assert (await hub.http.get(f"/api/kernels/{kernel_id}")).status_code == 404

    assert (await hub.http.delete(f"/api/sessions/{model['id']}")).status_code == 204
    assert (await hub.http.get(f"/api/sessions/{model['id']}")).status_code == 404
    assert (await hub.http.get(f"/api/kernels/{new_kernel}")).status_code == 404


async def test_session_reuses_a_kernel_by_id_and_forgets_a_dead_one(hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    body = {"path": "console-1", "type": "console", "name": "", "kernel": {"id": kernel_id}}
    created = await hub.http.post("/api/sessions", json=body)
    assert created.status_code == 201 and created.json()["kernel"]["id"] == kernel_id
    session_id = created.json()["id"]
    await hub.http.delete(f"/api/kernels/{kernel_id}")
    assert (await hub.http.get(f"/api/sessions/{session_id}")).status_code == 404
    listed = (await hub.http.get("/api/sessions")).json()
    assert session_id not in [s["id"] for s in listed]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (None, 400),
        ({"type": "notebook"}, 400),
        ({"path": "x"}, 400),
        ({"path": 3, "type": "notebook"}, 400),
        ({"path": "x", "type": "file", "kernel": {"name": "nope"}}, 501),
        ({"path": "y", "type": "file", "kernel": {"id": "no-such-kernel"}}, 400),
    ],
)
async def test_session_errors(hub: Hub, body: object, status: int) -> None:
    answer = await hub.http.post("/api/sessions", json=body)
    assert answer.status_code == status, answer.text
    assert "message" in answer.json()


async def test_unknown_session_is_404(hub: Hub) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    for method in ("GET", "DELETE"):
        assert (await hub.http.request(method, f"/api/sessions/{unknown}")).status_code == 404
    assert (await hub.http.patch(f"/api/sessions/{unknown}", json={})).status_code == 404
    assert (await hub.http.get("/api/sessions/not-a-uuid")).status_code == 404


@pytest.fixture(scope="module")
def open_hub(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[RunningHub]:
    env = {"CELLHUB_ALLOW_ANONYMOUS": "true", "CELLHUB_ANONYMOUS_KERNELS_PER_CLIENT": "4"}
    env.update(database_env(module_database_url))
    server = start_cellhub(tmp_path_factory.mktemp("anonymous"), env=env)
    yield server
    server.stop()


async def test_anonymous_clients_see_only_their_own_sessions(open_hub: RunningHub) -> None:
    """Two anonymous clients (two addresses) and the token holder."""
    async with (
        client(open_hub, "127.0.0.51", token=False) as alice,
        client(open_hub, "127.0.0.52", token=False) as bob,
        client(open_hub) as admin,
    ):
        mine = await alice.post("/api/sessions", json={**NOTEBOOK, "kernel": {"name": "python3"}})
        assert mine.status_code == 201, mine.text
        session_id, kernel_id = mine.json()["id"], mine.json()["kernel"]["id"]
        assert [s["id"] for s in (await alice.get("/api/sessions")).json()] == [session_id]
        assert (await bob.get("/api/sessions")).json() == []
        for method in ("GET", "DELETE"):
            refused = await bob.request(method, f"/api/sessions/{session_id}")
            assert refused.status_code == 404
        assert (
            await bob.patch(f"/api/sessions/{session_id}", json={"name": "x"})
        ).status_code == 404
        stolen = await bob.post(
            "/api/sessions", json={"path": "b", "type": "file", "kernel": {"id": kernel_id}}
        )
        assert stolen.status_code == 400
        theirs = await bob.post("/api/sessions", json=NOTEBOOK)
        assert theirs.status_code == 201 and theirs.json()["id"] != session_id
        everyone = {s["id"] for s in (await admin.get("/api/sessions")).json()}
        assert {session_id, theirs.json()["id"]} <= everyone
        assert (await alice.delete(f"/api/sessions/{session_id}")).status_code == 204


async def test_kernelspec_by_name_and_its_logos(hub: Hub) -> None:
    spec = await hub.http.get("/api/kernelspecs/python3")
    assert spec.status_code == 200 and spec.json()["name"] == "python3"
    resources = spec.json()["resources"]
    assert set(resources) == {"logo-32x32", "logo-64x64", "logo-svg"}
    assert (await hub.http.get("/api/kernelspecs")).json()["kernelspecs"]["python3"] == spec.json()
    assert (await hub.http.get("/api/kernelspecs/nope")).status_code == 404
    async with httpx.AsyncClient(base_url=hub.url) as anyone:  # images load without the token
        for url in resources.values():
            logo = await anyone.get(url)
            assert logo.status_code == 200 and logo.content
            kind = "image/svg+xml" if url.endswith(".svg") else "image/png"
            assert logo.headers["content-type"].startswith(kind)
        assert (await anyone.get("/kernelspecs/python3/kernel.json")).status_code == 404
        assert (await anyone.get("/kernelspecs/nope/logo-64x64.png")).status_code == 404


async def test_status(hub: Hub) -> None:
    kernel_id = await hub.start_kernel()
    kernel = await KernelClient.connect(hub.url, hub.token, kernel_id)
    status = await hub.http.get("/api/status")
    assert status.status_code == 200
    model = status.json()
    assert set(model) == {"started", "last_activity", "kernels", "connections"}
    assert model["kernels"] >= 1 and model["connections"] >= 1
    assert model["started"].endswith("Z") and model["last_activity"] >= model["started"][:19]
    await kernel.close()
