"""Cloud folders synced with a user's files (hub/cloud_api.py, storage/cloud_sync.py), end to
end against a real WebDAV server: ``rclone serve webdav`` on loopback, started here. The
hub's own rclone links, pulls and pushes through the API as a user would; what the server's
folder holds afterwards is read from its disk.

Then what a hostile or careless user must not get: a server outside ``cloud_origins``, a
backend that reaches the hub's disk, options rclone has but the kind does not offer, a push
that would empty the cloud folder, a pull past the quota, another user's remote.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cellhub.db.cloud_remotes import CloudRemoteRepository
from cellhub.hub.owners import TOKEN_HOLDER
from tests.hub.in_process import HUB, TOKEN, in_process_hub
from tests.hub.test_contents_files import text_body
from tests.webdav_server import WebDav, serving

pytestmark = pytest.mark.both_databases


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[WebDav]:
    folder = tmp_path / "dav"
    folder.mkdir()
    with serving(folder) as server:
        yield server


async def client_for(app: Starlette, token: str = TOKEN) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"token {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB, headers=headers) as client:
        yield client


@pytest.fixture
def hub(tmp_path: Path, webdav: WebDav) -> Starlette:
    (tmp_path / "hub").mkdir()
    return in_process_hub(tmp_path / "hub", cloud_origins=[webdav.url])


@pytest.fixture
async def api(hub: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(hub):
        yield client


def webdav_link(webdav: WebDav, password: str = "p", **more: Any) -> dict[str, Any]:
    settings = {"url": webdav.url, "vendor": "other", "user": "u", "pass": password}
    return {"kind": "webdav", "path": "", "folder": "cloud", "settings": settings, **more}


async def file_text(api: httpx.AsyncClient, path: str) -> str:
    got = await api.get(f"/api/contents/{path}", params={"content": "1", "format": "base64"})
    assert got.status_code == 200, got.text
    return base64.b64decode(got.json()["content"]).decode()


async def my_paths(api: httpx.AsyncClient, folder: str) -> set[str]:
    got = await api.get(f"/api/contents/{folder}")
    if got.status_code == 404:
        return set()
    assert got.status_code == 200, got.text
    found: set[str] = set()
    for model in got.json()["content"]:
        if model["type"] == "directory":
            found |= await my_paths(api, model["path"])
        else:
            found.add(model["path"])
    return found


async def test_link_pull_push_and_unlink(
    api: httpx.AsyncClient, webdav: WebDav, hub: Starlette
) -> None:
    (webdav.folder / "data.csv").write_text("a,b\n1,2\n")
    (webdav.folder / "sub").mkdir()
    (webdav.folder / "sub" / "x.bin").write_bytes(b"\x00\x01")
    (webdav.folder / ".hidden").write_text("not mine to take")
    linked = await api.put("/api/cloud/remotes/box", json=webdav_link(webdav))
    assert linked.status_code == 200, linked.text
    assert linked.json()["secrets"] == ["pass"] and "pass" not in linked.json()["settings"]
    stored = CloudRemoteRepository(hub.state.accounts.engine).get(TOKEN_HOLDER, "box")
    assert stored is not None and stored.settings["pass"] not in ("", "p"), "kept obscured"

    pulled = await api.post("/api/cloud/remotes/box/pull")
    assert pulled.status_code == 200, pulled.text
    assert (pulled.json()["files"], pulled.json()["removed"]) == (2, 0)
    assert await my_paths(api, "cloud") == {"cloud/data.csv", "cloud/sub/x.bin"}
    assert await file_text(api, "cloud/data.csv") == "a,b\n1,2\n"

    assert (await api.put("/api/contents/cloud/new.txt", json=text_body("hi"))).is_success
    assert (await api.delete("/api/contents/cloud/data.csv")).status_code == 204
    pushed = await api.post("/api/cloud/remotes/box/push")
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["files"] == 2
    assert (webdav.folder / "new.txt").read_text() == "hi"
    assert not (webdav.folder / "data.csv").exists(), "the cloud folder mirrors mine"
    assert (webdav.folder / ".hidden").exists(), "hidden names are left alone"

    (webdav.folder / "sub" / "x.bin").unlink()
    again = await api.post("/api/cloud/remotes/box/pull")
    assert again.status_code == 200, again.text
    assert (again.json()["files"], again.json()["removed"]) == (0, 1)
    assert await my_paths(api, "cloud") == {"cloud/new.txt"}
    listed = (await api.get("/api/cloud/remotes")).json()
    assert listed["available"] and listed["remotes"][0]["last_result"].startswith("pulled 0")
    assert "nextcloud" in listed["kinds"]["webdav"]["choices"]["vendor"]

    assert (await api.delete("/api/cloud/remotes/box")).status_code == 204
    assert (await api.get("/api/cloud/remotes")).json()["remotes"] == []
    assert await my_paths(api, "cloud") == {"cloud/new.txt"}, "unlinking keeps the files"


async def test_an_edit_keeps_the_secret_it_leaves_out(
    api: httpx.AsyncClient, webdav: WebDav
) -> None:
    (webdav.folder / "a.txt").write_text("a")
    assert (await api.put("/api/cloud/remotes/box", json=webdav_link(webdav))).is_success
    edit = webdav_link(webdav, folder="elsewhere")
    del edit["settings"]["pass"]
    edited = await api.put("/api/cloud/remotes/box", json=edit)
    assert edited.status_code == 200 and edited.json()["secrets"] == ["pass"]
    assert (await api.post("/api/cloud/remotes/box/pull")).status_code == 200
    assert await my_paths(api, "elsewhere") == {"elsewhere/a.txt"}


async def test_a_wrong_password_fails_with_rclones_words(
    api: httpx.AsyncClient, webdav: WebDav
) -> None:
    (webdav.folder / "a.txt").write_text("a")
    assert (await api.put("/api/cloud/remotes/box", json=webdav_link(webdav, "no"))).is_success
    failed = await api.post("/api/cloud/remotes/box/pull")
    assert failed.status_code == 502
    assert failed.json()["message"].startswith("rclone:"), failed.text
    remote = (await api.get("/api/cloud/remotes")).json()["remotes"][0]
    assert remote["last_result"].startswith("failed: rclone:")
    assert await my_paths(api, "cloud") == set()


async def test_a_push_from_an_empty_folder_is_refused(
    api: httpx.AsyncClient, webdav: WebDav
) -> None:
    (webdav.folder / "keep.txt").write_text("mine")
    assert (await api.put("/api/cloud/remotes/box", json=webdav_link(webdav))).is_success
    refused = await api.post("/api/cloud/remotes/box/push")
    assert refused.status_code == 409 and "empty" in refused.json()["message"]
    assert (webdav.folder / "keep.txt").read_text() == "mine"


async def test_a_pull_past_the_quota_is_refused_and_changes_nothing(
    tmp_path: Path, webdav: WebDav
) -> None:
    (tmp_path / "small").mkdir()
    app = in_process_hub(tmp_path / "small", cloud_origins=[webdav.url], user_files_quota=4096)
    (webdav.folder / "big.bin").write_bytes(b"x" * 100_000)
    async for api in client_for(app):
        assert (await api.put("/api/cloud/remotes/box", json=webdav_link(webdav))).is_success
        refused = await api.post("/api/cloud/remotes/box/pull")
        assert refused.status_code == 413, refused.text
        assert "quota" in refused.json()["message"]
        assert await my_paths(api, "cloud") == set()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "local", "settings": {}}, "unknown kind"),
        ({"kind": "alias", "settings": {"remote": "/etc"}}, "unknown kind"),
        ({"kind": "dropbox", "settings": {"token": "{}", "client_id": "x"}}, "no option"),
        ({"kind": "dropbox", "settings": {"token": "not json"}}, "rclone authorize"),
        ({"kind": "webdav", "settings": {"url": "http://10.0.0.1:80"}}, "cloud_origins"),
        ({"kind": "webdav", "settings": {"url": "file:///etc"}}, "http or https"),
        ({"kind": "webdav", "settings": {}}, "needs 'url'"),
        ({"kind": "dropbox", "settings": {"token": '{"access_token": "t"}\ntype = local'}},
         "one line"),
        ({"kind": "s3", "settings": {"access_key_id": "k", "secret_access_key": "s",
                                     "endpoint": "http://169.254.169.254"}}, "cloud_origins"),
        ({"kind": "drive", "settings": {"token": '{"access_token": "t"}', "scope": "all"}},
         "must be one of"),
        ({"kind": "webdav", "folder": "../up", "settings": {}}, "folder"),
    ],
)  # fmt: skip
async def test_what_a_link_may_not_name(
    api: httpx.AsyncClient, body: dict[str, Any], says: str
) -> None:
    refused = await api.put("/api/cloud/remotes/box", json={"path": "", **body})
    assert refused.status_code == 400, refused.text
    assert says in refused.json()["message"]
    assert (await api.get("/api/cloud/remotes")).json()["remotes"] == []


async def test_a_remote_is_its_owners_alone(hub: Starlette, webdav: WebDav) -> None:
    ada = hub.state.accounts.create("ada")
    bob = hub.state.accounts.create("bob")
    ada_token = hub.state.api_tokens.create(ada.id, ("files",))[0]
    bob_token = hub.state.api_tokens.create(bob.id, ("files",))[0]
    async for ada_api in client_for(hub, ada_token):
        assert (await ada_api.put("/api/cloud/remotes/box", json=webdav_link(webdav))).is_success
    async for bob_api in client_for(hub, bob_token):
        assert (await bob_api.get("/api/cloud/remotes")).json()["remotes"] == []
        assert (await bob_api.post("/api/cloud/remotes/box/pull")).status_code == 404
        assert (await bob_api.delete("/api/cloud/remotes/box")).status_code == 404
