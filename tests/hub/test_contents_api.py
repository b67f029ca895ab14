"""The contents API against what Jupyter Server's own contents tests assert
(jupyter_server's tests/services/contents/test_api.py), for the paths both serve: listing,
reading, creating, uploading, copying, renaming, deleting notebooks and directories, and
checkpoints. Then what cellhub adds: versions that refuse a stale save, owners, limits.

Jupyter Server's tests also cover files (text and binary): tests/hub/test_contents_files.py
makes those assertions against users' files.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unicodedata import normalize
from urllib.parse import quote

import httpx
import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from tests.hub.in_process import HUB, TOKEN, in_process_hub

pytestmark = pytest.mark.both_databases

#: Folders and the notebook in each, as Jupyter Server's test tree has them (spaces, accents).
TREE = [
    ("", "inroot"),
    ("Directory with spaces in", "inspace"),
    ("unicodé", "innonascii"),
    ("foo", "a"),
    ("foo", "b"),
    ("foo", "name with spaces"),
    ("foo", "unicodé"),
    ("foo/bar", "baz"),
    ("ordering", "A"),
    ("ordering", "b"),
    ("ordering", "C"),
    ("å b", "ç d"),
]
FOLDERS = sorted({folder for folder, _ in TREE if folder} | {"foo/bar", "parent"})


def url(*parts: str) -> str:
    return "/api/contents/" + "/".join(quote(part) for part in parts if part)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A user's contents holding TREE: each folder, and in it an empty notebook."""
    app = in_process_hub(tmp_path, worksheet_max_size=256 * 1024)
    headers = {"Authorization": f"token {TOKEN}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB, headers=headers) as client:
        for folder in sorted(FOLDERS, key=lambda f: f.count("/")):
            made = await client.put(url(folder), json={"type": "directory"})
            assert made.status_code == 201, made.text
        for folder, name in TREE:
            model = {"type": "notebook", "content": new_notebook()}
            made = await client.put(url(folder, f"{name}.ipynb"), json=model)
            assert made.status_code == 201, made.text
        yield client


def notebooks_only(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [each for each in model["content"] if each["type"] == "notebook"]


async def check_created(
    response: httpx.Response, folder: str, name: str, kind: str = "notebook"
) -> None:
    path = f"{folder}/{name}".lstrip("/")
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == url(*path.split("/"))
    model = response.json()
    assert (model["name"], model["path"], model["type"]) == (name, path, kind)


@pytest.mark.parametrize(("folder", "name"), TREE)
async def test_list_read_and_the_models_fields(
    api: httpx.AsyncClient, folder: str, name: str
) -> None:
    listing = (await api.get(url(folder))).json()
    notebooks = notebooks_only(listing)
    assert f"{name}.ipynb" in [normalize("NFC", n["name"]) for n in notebooks]
    assert f"{folder}/{name}.ipynb".lstrip("/") in [n["path"] for n in notebooks]
    empty = (await api.get(url(folder), params={"content": "0"})).json()
    assert (empty["path"], empty["type"], empty["content"]) == (folder, "directory", None)

    path = f"{folder}/{name}.ipynb".lstrip("/")
    model = (await api.get(url(path), params={"content": "1"})).json()
    assert (model["name"], model["path"], model["type"]) == (f"{name}.ipynb", path, "notebook")
    assert model["format"] == "json" and isinstance(model["content"]["metadata"], dict)
    assert {"created", "last_modified", "mimetype", "writable", "size"} <= set(model)
    hashed = (await api.get(url(path), params={"hash": "1"})).json()
    assert hashed["hash_algorithm"] == "sha256" and len(hashed["hash"]) == 64
    bare = (await api.get(url(path), params={"content": "0"})).json()
    assert bare["type"] == "notebook" and bare["content"] is None


async def test_missing_bad_type_and_bad_query(api: httpx.AsyncClient) -> None:
    assert (await api.get(url("nonexistent"))).status_code == 404
    assert (await api.get(url("foo", "q.ipynb"))).status_code == 404
    wrong = await api.get(url("unicodé"), params={"type": "file"})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "unicodé is a directory, not a file"
    wrong = await api.get(url("unicodé", "innonascii.ipynb"), params={"type": "directory"})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "unicodé/innonascii.ipynb is not a directory"
    assert (await api.get(url(""), params={"content": "2"})).status_code == 400
    assert (await api.get(url(""), params={"format": "xml"})).status_code == 400


async def test_create_untitled_and_folders(api: httpx.AsyncClient) -> None:
    for folder, name in [
        ("å b", "Untitled.ipynb"),
        ("å b", "Untitled1.ipynb"),
        ("foo/bar", "Untitled.ipynb"),
    ]:
        made = await api.post(url(*folder.split("/")), json={"ext": ".ipynb"})
        await check_created(made, folder, name)
    for folder, name in [
        ("å b", "Untitled Folder"),
        ("å b", "Untitled Folder 1"),
        ("foo/bar", "Untitled Folder"),
    ]:
        made = await api.post(url(*folder.split("/")), json={"type": "directory"})
        await check_created(made, folder, name, "directory")
    made = await api.put(url("å b", "New ∂ir"), json={"type": "directory"})
    await check_created(made, "å b", "New ∂ir", "directory")
    assert (await api.put(url("å b", ".hidden"), json={"type": "directory"})).status_code == 400
    assert (await api.post(url("nowhere"), json={"ext": ".ipynb"})).status_code == 404


async def test_upload_and_save_round_trip(api: httpx.AsyncClient) -> None:
    made = await api.put(
        url("å b", "Upload tést.ipynb"), json={"content": new_notebook(), "type": "notebook"}
    )
    await check_created(made, "å b", "Upload tést.ipynb")
    model = (await api.get(url("foo", "a.ipynb"))).json()
    notebook = nbformat.from_dict(model["content"])
    notebook.cells.append(new_markdown_cell("Created by test ³"))
    saved = await api.put(url("foo", "a.ipynb"), json={"content": notebook, "type": "notebook"})
    assert saved.status_code == 200
    again = nbformat.from_dict((await api.get(url("foo", "a.ipynb"))).json()["content"])
    assert again.cells[0].source == "Created by test ³"


async def test_copy(api: httpx.AsyncClient) -> None:
    for source, copy in [
        ("ç d.ipynb", "ç d-Copy1.ipynb"),
        ("ç d.ipynb", "ç d-Copy2.ipynb"),
        ("ç d-Copy2.ipynb", "ç d-Copy3.ipynb"),
    ]:
        made = await api.post(url("å b"), json={"copy_from": f"å b/{source}"})
        await check_created(made, "å b", copy)
    made = await api.post(url("å b"), json={"copy_from": "foo/a.ipynb"})
    await check_created(made, "å b", "a.ipynb")
    made = await api.post(url("å b"), json={"copy_from": "foo/a.ipynb"})
    await check_created(made, "å b", "a-Copy1.ipynb")
    made = await api.post(url("parent"), json={"copy_from": "foo"})
    await check_created(made, "parent", "foo", "directory")
    made = await api.post(url("parent"), json={"copy_from": "foo"})
    await check_created(made, "parent", "foo-Copy1", "directory")
    inside = (await api.get(url("parent", "foo-Copy1", "bar", "baz.ipynb"))).json()
    assert inside["type"] == "notebook"
    copying = await api.put(url("å b", "cøpy.ipynb"), json={"copy_from": "å b/ç d.ipynb"})
    assert copying.status_code == 400
    for path, source in [
        (".hidden", "foo/a.ipynb"),
        ("foo", ".hidden/new.ipynb"),
        ("foo", ".hidden.ipynb"),
    ]:
        assert (await api.post(url(path), json={"copy_from": source})).status_code == 400


@pytest.mark.parametrize(("folder", "name"), TREE)
async def test_delete(api: httpx.AsyncClient, folder: str, name: str) -> None:
    assert (await api.delete(url(folder, f"{name}.ipynb"))).status_code == 204
    assert (await api.get(url(folder, f"{name}.ipynb"))).status_code == 404


async def test_delete_everything_and_non_empty_folders(api: httpx.AsyncClient) -> None:
    assert (await api.delete(url("å b"))).status_code == 204
    assert (await api.get(url("å b"))).status_code == 404
    for folder in sorted([*FOLDERS, ""], key=len, reverse=True):
        listing = await api.get(url(folder))
        for model in listing.json()["content"] if listing.status_code == 200 else []:
            assert (await api.delete(url(*model["path"].split("/")))).status_code == 204
    assert (await api.get(url(""))).json()["content"] == []
    assert (await api.delete(url(".hidden"))).status_code == 400
    assert (await api.delete(url(".hidden", "test.ipynb"))).status_code == 400


async def test_rename(api: httpx.AsyncClient) -> None:
    renamed = await api.patch(url("foo", "a.ipynb"), json={"path": "foo/z.ipynb"})
    assert renamed.status_code == 200
    assert renamed.headers["Location"] == url("foo", "z.ipynb")
    assert (renamed.json()["name"], renamed.json()["path"]) == ("z.ipynb", "foo/z.ipynb")
    names = [each["name"] for each in (await api.get(url("foo"))).json()["content"]]
    assert "z.ipynb" in names and "a.ipynb" not in names
    taken = await api.patch(url("foo", "z.ipynb"), json={"path": "foo/b.ipynb"})
    assert taken.status_code == 409
    for old, new in [
        (".hidden/old.ipynb", "new.ipynb"),
        ("foo/b.ipynb", ".hidden/new.ipynb"),
        (".hidden.ipynb", "new.ipynb"),
        ("foo/b.ipynb", ".hidden.ipynb"),
    ]:
        assert (await api.patch(url(*old.split("/")), json={"path": new})).status_code == 400
    moved = await api.patch(url("foo"), json={"path": "ordering/foo"})
    assert moved.status_code == 200
    assert (await api.get(url("ordering", "foo", "bar", "baz.ipynb"))).status_code == 200


async def test_checkpoints(api: httpx.AsyncClient) -> None:
    path = ("foo", "a.ipynb")
    model = (await api.get(url(*path))).json()
    created = await api.post(url(*path, "checkpoints"))
    assert created.status_code == 201
    first = created.json()
    assert set(first) == {"id", "last_modified"}
    assert created.headers["Location"].split("/")[-1] == first["id"]
    notebook = nbformat.from_dict(model["content"])
    notebook.cells.append(new_markdown_cell("Created by test"))
    await api.put(url(*path), json={"content": notebook, "type": "notebook"})
    assert (await api.get(url(*path, "checkpoints"))).json() == [first]
    saved = nbformat.from_dict((await api.get(url(*path))).json()["content"])
    assert saved.cells[0].source == "Created by test"

    restored = await api.post(url(*path, "checkpoints", first["id"]))
    assert restored.status_code == 204
    assert (await api.get(url(*path))).json()["content"]["cells"] == []
    assert (await api.delete(url(*path, "checkpoints", first["id"]))).status_code == 204
    assert (await api.get(url(*path, "checkpoints"))).json() == []


# -- beyond Jupyter Server: versions, owners, limits ------------------------------------
async def test_a_save_based_on_an_older_version_is_refused(api: httpx.AsyncClient) -> None:
    """Two tabs open version N; the first saves (N+1); the second's save, based on N, is
    told 409 and the current version, instead of overwriting."""
    opened = await api.get(url("foo", "a.ipynb"))
    tag = opened.headers["ETag"]
    body = {"type": "notebook", "content": opened.json()["content"]}
    first = await api.put(url("foo", "a.ipynb"), json=body, headers={"If-Match": tag})
    assert first.status_code == 200 and first.headers["ETag"] != tag
    second = await api.put(url("foo", "a.ipynb"), json=body, headers={"If-Match": tag})
    assert second.status_code == 409
    assert second.headers["ETag"] == first.headers["ETag"]
    keep_mine = await api.put(
        url("foo", "a.ipynb"), json=body, headers={"If-Match": second.headers["ETag"]}
    )
    assert keep_mine.status_code == 200


async def test_invalid_notebooks_files_and_bad_paths_are_refused(api: httpx.AsyncClient) -> None:
    broken = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "wrong"}]}
    refused = await api.put(url("broken.ipynb"), json={"type": "notebook", "content": broken})
    assert refused.status_code == 400 and "validation failed" in refused.json()["message"].lower()
    text = await api.put(url("a.txt"), json={"type": "file", "format": "xml", "content": "x"})
    assert text.status_code == 400
    for path in ["../etc/passwd", "foo/../../x.ipynb", "a\\b.ipynb", "foo//a.ipynb"]:
        assert (await api.get("/api/contents/" + path)).status_code in (400, 404)
        made = await api.put(
            "/api/contents/" + path, json={"type": "notebook", "content": new_notebook()}
        )
        assert made.status_code in (400, 404), path
    root = (await api.get(url(""))).json()
    assert {each["name"] for each in root["content"]} >= {"foo", "inroot.ipynb"}
    assert not any(".." in each["path"] for each in root["content"])


async def test_oversized_saves_are_refused(api: httpx.AsyncClient) -> None:
    notebook = new_notebook(cells=[new_markdown_cell("x" * 300_000)])
    big = await api.put(
        url("big.ipynb"), content=json.dumps({"type": "notebook", "content": notebook})
    )
    assert big.status_code == 413


async def test_only_the_owner_sees_worksheets(tmp_path: Path) -> None:
    """Anonymous clients keep no worksheets on the server, and see nobody's."""
    app = in_process_hub(tmp_path, allow_anonymous=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=HUB) as anonymous:
        assert (await anonymous.get(url(""))).status_code == 403
        made = await anonymous.put(
            url("x.ipynb"), json={"type": "notebook", "content": new_notebook()}
        )
        assert made.status_code == 403


async def test_hostile_versions_and_nesting_get_4xx(api: httpx.AsyncClient) -> None:
    """Numbers past the database's integers, and JSON nested past what is written back."""
    body = {"type": "notebook", "content": new_notebook()}
    huge = {"If-Match": '"' + "9" * 30 + '"'}
    assert (await api.put(url("foo", "a.ipynb"), json=body, headers=huge)).status_code == 400
    assert (await api.post(url("foo", "a.ipynb", "checkpoints", "9" * 30))).status_code == 404
    assert (
        await api.get("/api/worksheets/versions/" + "9" * 30 + "/foo/a.ipynb")
    ).status_code == 404
    nested: Any = "deep"
    for _ in range(300):
        nested = {"n": nested}
    deep = new_notebook(metadata={"deep": nested})
    made = await api.put(
        url("deep.ipynb"), content=json.dumps({"type": "notebook", "content": deep})
    )
    assert made.status_code == 400
