"""Users' files through the contents API, with the assertions Jupyter Server's contents tests
make for files (text and binary, uploads whole and in chunks, rename, copy, delete), then
what cellhub adds: one tree with the worksheets, the quota, hostile paths, downloads that
never render on the hub's origin."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from nbformat.v4 import new_notebook

from cellhub.hub.owners import TOKEN_HOLDER
from cellhub.storage.git_bundles import Put
from cellhub.storage.user_files import UserFiles
from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

BINARY = bytes(range(256)) * 4


def url(*parts: str) -> str:
    return "/api/contents/" + "/".join(quote(part) for part in parts if part)


async def client_of(tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = in_process_hub(tmp_path, **settings)
    headers = {"Authorization": f"token {TOKEN}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB, headers=headers) as client:
        yield client


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(tmp_path):
        yield client


def text_body(text: str) -> dict[str, Any]:
    return {"type": "file", "format": "text", "content": text}


def binary_body(data: bytes, **more: Any) -> dict[str, Any]:
    return {"type": "file", "format": "base64", "content": base64.b64encode(data).decode(), **more}


def names(listing: httpx.Response) -> dict[str, str]:
    assert listing.status_code == 200, listing.text
    return {model["name"]: model["type"] for model in listing.json()["content"]}


async def test_text_and_binary_files_round_trip(api: httpx.AsyncClient) -> None:
    made = await api.put(url("data.csv"), json=text_body("a,b\n1,2\n"))
    assert made.status_code == 201 and made.headers["Location"] == url("data.csv")
    assert made.json()["type"] == "file" and made.json()["content"] is None
    model = (await api.get(url("data.csv"))).json()
    assert (model["format"], model["mimetype"]) == ("text", "text/plain")
    assert model["content"] == "a,b\n1,2\n"
    assert model["size"] == 8 and model["writable"] is True
    as_base64 = (await api.get(url("data.csv"), params={"format": "base64"})).json()
    assert base64.b64decode(as_base64["content"]) == b"a,b\n1,2\n"
    assert (await api.put(url("b.bin"), json=binary_body(BINARY))).status_code == 201
    binary = (await api.get(url("b.bin"))).json()
    assert binary["format"] == "base64" and base64.b64decode(binary["content"]) == BINARY
    assert (await api.get(url("b.bin"), params={"format": "text"})).status_code == 400
    assert (await api.get(url("b.bin"), params={"type": "directory"})).status_code == 400
    hashed = (await api.get(url("b.bin"), params={"hash": "1", "content": "0"})).json()
    assert hashed["hash_algorithm"] == "sha256" and hashed["content"] is None
    saved = await api.put(url("data.csv"), json=text_body("a,b\n3,4\n"))
    assert saved.status_code == 200
    assert (await api.get(url("data.csv"))).json()["content"] == "a,b\n3,4\n"


async def test_uploads_in_chunks(api: httpx.AsyncClient) -> None:
    pieces = [BINARY[:300], BINARY[300:700], BINARY[700:]]
    for number, piece in zip((1, 2, -1), pieces, strict=True):
        sent = await api.put(url("big.bin"), json=binary_body(piece, chunk=number))
        assert sent.status_code in (200, 201), sent.text
    whole = (await api.get(url("big.bin"), params={"format": "base64"})).json()
    assert base64.b64decode(whole["content"]) == BINARY
    bad = await api.put(url("big.bin"), json=binary_body(b"x", chunk="one"))
    assert bad.status_code == 400


async def test_one_tree_with_the_worksheets(api: httpx.AsyncClient) -> None:
    assert (await api.put(url("course"), json={"type": "directory"})).status_code == 201
    notebook = {"type": "notebook", "content": new_notebook()}  # type: ignore[no-untyped-call]
    assert (await api.put(url("course", "week 1.ipynb"), json=notebook)).status_code == 201
    assert (await api.put(url("course", "data.csv"), json=text_body("x\n"))).status_code == 201
    assert (await api.put(url("nowhere", "x.txt"), json=text_body("x"))).status_code == 404
    assert names(await api.get(url("course"))) == {"week 1.ipynb": "notebook", "data.csv": "file"}
    assert names(await api.get(url(""))) == {"course": "directory"}

    moved = await api.patch(url("course"), json={"path": "term"})
    assert moved.status_code == 200
    assert names(await api.get(url("term"))) == {"week 1.ipynb": "notebook", "data.csv": "file"}
    assert (await api.get(url("course", "data.csv"))).status_code == 404
    renamed = await api.patch(url("term", "data.csv"), json={"path": "term/d.csv"})
    assert renamed.json()["path"] == "term/d.csv"
    taken = await api.patch(url("term", "d.csv"), json={"path": "term/week 1.ipynb"})
    assert taken.status_code == 409

    copied = await api.post(url("term"), json={"copy_from": "term/d.csv"})
    assert copied.status_code == 201 and copied.json()["path"] == "term/d-Copy1.csv"
    for expected in ("untitled.txt", "untitled1.txt"):
        new = await api.post(url("term"), json={"type": "file", "ext": ".txt"})
        assert new.status_code == 201 and new.json()["name"] == expected
    assert (await api.delete(url("term", "d.csv"))).status_code == 204
    assert (await api.get(url("term", "d.csv"))).status_code == 404
    assert (await api.delete(url("term"))).status_code == 204
    assert names(await api.get(url(""))) == {}


async def test_folders_only_files_are_in(tmp_path: Path) -> None:
    """A folder only files are in (as a session's code makes them) is listed, opened,
    written into, renamed and deleted like any other."""
    app = in_process_hub(tmp_path)
    files: UserFiles = app.state.user_files
    files.change(TOKEN_HOLDER, [Put("made/by/code.txt", b"1")], "a session's save")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"token {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url=HUB, headers=headers) as api:
        assert names(await api.get(url(""))) == {"made": "directory"}
        assert names(await api.get(url("made"))) == {"by": "directory"}
        assert (await api.put(url("made", "up.txt"), json=text_body("2"))).status_code == 201
        assert (await api.patch(url("made"), json={"path": "kept"})).status_code == 200
        assert names(await api.get(url("kept"))) == {"by": "directory", "up.txt": "file"}
        assert (await api.get(url("kept", "by", "code.txt"))).json()["content"] == "1"
        assert (await api.delete(url("kept"))).status_code == 204
        assert names(await api.get(url(""))) == {}


async def test_the_quota_names_itself(tmp_path: Path) -> None:
    async for api in client_of(tmp_path, user_files_quota=1000):
        assert (await api.put(url("a.bin"), json=binary_body(bytes(600)))).status_code == 201
        over = await api.put(url("b.bin"), json=binary_body(bytes(600)))
        assert over.status_code == 413
        assert "quota of 1000 bytes" in over.json()["message"]
        assert "user_files_quota" in over.json()["message"]
        chunked = await api.put(url("c.bin"), json=binary_body(bytes(300), chunk=1))
        assert chunked.status_code in (200, 201)
        too_much = await api.put(url("c.bin"), json=binary_body(bytes(300), chunk=2))
        assert too_much.status_code == 413
        assert (await api.get(url("c.bin"))).status_code == 404
        assert (await api.delete(url("a.bin"))).status_code == 204
        assert (await api.put(url("b.bin"), json=binary_body(bytes(600)))).status_code == 201


@pytest.mark.parametrize(
    "path", ["../x.txt", "a/../../x.txt", ".hidden", "a/.git/config", "a\\b.txt", "x\n.txt"]
)
async def test_hostile_paths_are_refused(api: httpx.AsyncClient, path: str) -> None:
    put = await api.put("/api/contents/" + quote(path, safe="/"), json=text_body("x"))
    assert put.status_code in (400, 404), put.text
    assert names(await api.get(url(""))) == {}


async def test_downloads_never_render_on_the_hubs_origin(api: httpx.AsyncClient) -> None:
    page = "<script>alert(document.cookie)</script>"
    assert (await api.put(url("page.html"), json=text_body(page))).status_code == 201
    assert (await api.put(url("é t.csv"), json=text_body("a\n"))).status_code == 201
    html = await api.get("/files/page.html")
    assert html.status_code == 200 and html.text == page
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in html.headers["content-security-policy"]
    assert html.headers["x-content-type-options"] == "nosniff"
    csv = await api.get("/files/" + quote("é t.csv"))
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == "inline; filename*=UTF-8''%C3%A9%20t.csv"
    saved = await api.get("/files/" + quote("é t.csv"), params={"download": "1"})
    assert saved.headers["content-disposition"].startswith("attachment;")
    assert (await api.get("/files/missing.txt")).status_code == 404
    assert (await api.get("/files/../etc/passwd")).status_code == 404


async def test_anonymous_callers_have_no_files(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=in_process_hub(tmp_path, allow_anonymous=True))
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as anonymous:
        assert (await anonymous.put(url("a.txt"), json=text_body("x"))).status_code == 403
        assert (await anonymous.get("/files/a.txt")).status_code == 403
