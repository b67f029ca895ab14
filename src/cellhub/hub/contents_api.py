"""Jupyter's contents API (``/api/contents``) over the worksheet store: same paths, JSON and
status codes as Jupyter Server, so JupyterLab, jupyter_client scripts and the like list, open,
save, rename, copy and delete a user's worksheets and folders.

The models are Jupyter Server's: ``name``, ``path``, ``type`` ("notebook", "directory"; "file"
joins when users' files do), ``created``, ``last_modified``, ``mimetype``, ``format``,
``content``, ``size``, ``writable``, and ``hash``/``hash_algorithm`` when ``hash=1`` asks.
Errors are Jupyter Server's body with its codes: a path that is not there 404, a hidden one
404 to read and 400 to change, an existing target 409, a bad request 400.

Two things go beyond Jupyter Server, for cellhub's page and any client that wants them:

- every notebook model comes with an ``ETag`` naming its version; a ``PUT`` with
  ``If-Match: <that tag>`` is saved only if the worksheet is still at that version, and
  answers 409 otherwise (another tab or device saved meanwhile), instead of overwriting;
- checkpoints are versions of the worksheet's history kept on purpose (db/worksheets.py):
  creating one marks the current version, restoring one saves it as the newest version.

Only a request with the token or a login reaches these routes (``Access.USER``); its owner
(hub/owners.py) is the only contents it sees: no path names another owner's worksheets.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.db import worksheets as store
from cellhub.db.worksheets import Entry, WorksheetRepository
from cellhub.hub import contents_files as files
from cellhub.hub.access import Access, Guarded
from cellhub.hub.contents_paths import BadPath, checked, is_hidden, join
from cellhub.hub.json_api import Refused, error
from cellhub.hub.notebooks import InvalidNotebook, empty_notebook, notebook_bytes
from cellhub.hub.owners import owner_of
from cellhub.storage.git_bundles import Copy, Delete, FileEntry, Put, Rename
from cellhub.storage.user_files import Snapshot

TYPES = (None, "directory", "file", "notebook")
#: Version numbers fit the database's integers; a bigger one names no version.
MOST_VERSIONS = 2**31 - 1


def iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def etag(entry: Entry) -> str:
    return f'"{entry.version}"'


def base_model(entry: Entry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "path": entry.path,
        "type": entry.type,
        "created": iso(entry.created),
        "last_modified": iso(entry.updated),
        "content": None,
        "format": None,
        "mimetype": None,
        "size": entry.size if entry.type == store.NOTEBOOK else None,
        "writable": True,
    }


def top_entry(children: list[Entry]) -> Entry:
    """The top folder, which no row holds: as new as what it holds."""
    newest = max((c.updated for c in children), default=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    return Entry("", "", store.DIRECTORY, 0, 0, newest, newest)


def repository(request: Request) -> WorksheetRepository:
    worksheets: WorksheetRepository = request.app.state.worksheets
    return worksheets


def owner(request: Request) -> str:
    mine = owner_of(request)
    if mine is None:
        raise Refused(error(403, "anonymous clients keep their worksheets in their browser"))
    return mine


def path_of(request: Request, changing: bool) -> str:
    """The request's path, checked; a hidden one is refused as Jupyter Server does."""
    try:
        path = checked(request.path_params.get("path", ""))
    except BadPath as exc:
        raise Refused(error(400 if changing else 404, str(exc))) from None
    if is_hidden(path):
        verb = "Cannot change" if changing else "No such"
        raise Refused(error(400 if changing else 404, f"{verb} file or directory {path!r}"))
    return path


def other_path(value: Any) -> str:
    """A path the body names (a copy's source, a rename's target), checked."""
    if not isinstance(value, str):
        raise Refused(error(400, "a path must be a string"))
    try:
        path = checked(value)
    except BadPath as exc:
        raise Refused(error(400, str(exc))) from None
    if is_hidden(path) or not path:
        raise Refused(error(400, f"Cannot use file or directory {value!r}"))
    return path


T = TypeVar("T")


async def run(work: Callable[..., T], *args: Any) -> T:
    """A store call in a thread, its failures turned into Jupyter Server's answers."""
    try:
        return await asyncio.to_thread(work, *args)
    except store.NotFound as exc:
        raise Refused(error(404, f"No such file or directory: {exc}")) from None
    except store.Exists as exc:
        raise Refused(error(409, f"File already exists: {exc}")) from None
    except store.WrongType as exc:
        raise Refused(error(400, str(exc))) from None
    except store.Conflict as exc:
        message = "The worksheet was saved elsewhere since this copy was opened"
        raise Refused(error(409, message, {"ETag": f'"{exc.current}"'}, "conflict")) from None


def location(request: Request, path: str) -> str:
    """The URL path of an entry, as Jupyter Server's ``Location`` gives it."""
    return f"{request.scope.get('root_path', '')}/api/contents/{quote(path)}"


def model_response(
    request: Request, model: dict[str, Any], status: int = 200, entry: Entry | None = None
) -> Response:
    # no-store: a browser would otherwise cache a listing by its Last-Modified (an empty top
    # folder's is 1970) and show a stale one after an upload.
    headers = {"Last-Modified": model["last_modified"], "Cache-Control": "no-store"}
    if status == 201 or request.method == "PATCH" or request.method == "POST":
        headers["Location"] = location(request, model["path"])
    if entry is not None and entry.type == store.NOTEBOOK:
        headers["ETag"] = etag(entry)
    return Response(orjson.dumps(model), status, headers, media_type="application/json")


async def json_body(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused(error(400, "Invalid JSON in body of request")) from None
    if not isinstance(body, dict):
        raise Refused(error(400, "the body must be a JSON object"))
    return body


# -- GET -------------------------------------------------------------------------------
def query_flag(request: Request, name: str, default: str) -> bool:
    value = request.query_params.get(name, default)
    if value not in ("0", "1"):
        raise Refused(error(400, f"{name.capitalize()} {value!r} is invalid"))
    return value == "1"


async def get(request: Request) -> Response:
    path = path_of(request, changing=False)
    kind = request.query_params.get("type")
    kind = kind if kind in TYPES else "file"
    fmt = request.query_params.get("format")
    if fmt not in (None, "text", "base64"):
        raise Refused(error(400, f"Format {fmt!r} is invalid"))
    content = query_flag(request, "content", "1")
    with_hash = query_flag(request, "hash", "0")
    mine = owner(request)
    entry = await run(repository(request).get, mine, path) if path else None
    snap = await files.snapshot(request, mine)
    if entry is None and path in snap.files:
        if kind in ("directory", "notebook"):
            raise Refused(error(400, f"{path} is not a {kind}", reason="bad type"))
        found = snap.files[path]
        model = files.file_model(snap, found)
        if content or with_hash:
            model = await files.with_content(request, mine, snap, found, fmt, (content, with_hash))
        return model_response(request, model)
    if path and entry is None and path not in snap.folders():
        raise Refused(error(404, f"file or directory {path!r} does not exist"))
    if entry is None or entry.type == store.DIRECTORY:
        if kind not in (None, "directory"):
            raise Refused(error(400, f"{path} is a directory, not a {kind}", reason="bad type"))
        model, entry = await folder_model(request, mine, path, content, snap)
    else:
        if kind == "directory":
            raise Refused(error(400, f"{path} is not a directory", reason="bad type"))
        model = await notebook_model(request, mine, entry, content, with_hash, kind, fmt)
    return model_response(request, model, entry=entry)


async def folder_model(
    request: Request, mine: str, path: str, content: bool, snap: Snapshot
) -> tuple[dict[str, Any], Entry]:
    """A folder's model: its worksheets and folders, then the files and folders of the
    user's files there (hub/contents_files.py: one tree)."""
    children = await run(repository(request).children, mine, path)
    entry = await run(repository(request).get, mine, path) if path else None
    entry = entry or folder_entry(path, children, snap)
    model = base_model(entry)
    if content:
        taken = {child.name for child in children}
        model["content"] = [base_model(child) for child in children]
        model["content"] += files.children(snap, path, taken)
        model["format"] = "json"
    return model, entry


def folder_entry(path: str, children: list[Entry], snap: Snapshot) -> Entry:
    """A folder that no row holds (the top, or one only files are in): as new as its
    newest content."""
    top = top_entry(children)
    newest = max(top.updated, snap.updated) if snap.files else top.updated
    return Entry("", path, store.DIRECTORY, 0, 0, newest, newest)


async def notebook_model(
    request: Request,
    mine: str,
    entry: Entry,
    content: bool,
    with_hash: bool,
    kind: str | None,
    fmt: str | None,
) -> dict[str, Any]:
    """A notebook's model: as a notebook, or, asked for as a file, as its JSON text."""
    model = base_model(entry)
    if not (content or with_hash):
        return model
    _, data = await run(repository(request).content, mine, entry.path, entry.version)
    if with_hash:
        versions = await run(repository(request).versions, mine, entry.path)
        model["hash"] = next(v.sha256 for v in versions if v.number == entry.version)
        model["hash_algorithm"] = "sha256"
    if content and kind == "file":
        model.update(type="file", mimetype="text/plain", format="text", content=data.decode())
        if fmt == "base64":
            model.update(format="base64", content=base64.b64encode(data).decode())
    elif content:
        model.update(format="json", content=orjson.loads(data))
    return model


# -- PUT: save or create at a path ------------------------------------------------------
def based_on(request: Request) -> int | None:
    """The version named by ``If-Match`` (None: none named, save over whatever is there)."""
    tag = request.headers.get("if-match")
    if tag is None or tag.strip() == "*":
        return None
    number = tag.strip().removeprefix("W/").strip('"')
    if not number.isdigit() or len(number) > 9:
        raise Refused(error(400, f"If-Match {tag!r} names no version"))
    return int(number)


async def put(request: Request) -> Response:
    path = path_of(request, changing=True)
    body = await json_body(request)
    if body is None:
        snap = await files.snapshot(request, owner(request))
        return await new_untitled(request, owner(request), path, "", "", snap)
    if body.get("copy_from"):
        raise Refused(error(400, "Cannot copy with PUT, only POST"))
    if isinstance(body.get("path"), str) and is_hidden(body["path"]):
        raise Refused(error(400, f"Cannot create file or directory {path!r}"))
    if not path:
        raise Refused(error(400, "Cannot save the top directory"))
    kind = body.get("type") or ("notebook" if path.endswith(".ipynb") else "file")
    mine = owner(request)
    existing = await run(repository(request).get, mine, path)
    snap = await files.snapshot(request, mine)
    if path in snap.files and kind != "file":
        raise Refused(error(400, f"a file is at {path}"))
    if kind == "directory":
        if existing is not None and existing.type == store.DIRECTORY:
            return model_response(request, base_model(existing), entry=existing)
        entry = await run(repository(request).make_folder, mine, path)
        return model_response(request, base_model(entry), 201, entry)
    if kind == "file":
        return await save_file(request, mine, path, body, existing, snap)
    if kind != "notebook":
        raise Refused(error(400, f"Unhandled contents type: {kind}"))
    return await save(request, mine, path, body, existing)


async def save_file(
    request: Request,
    mine: str,
    path: str,
    body: dict[str, Any],
    existing: Entry | None,
    snap: Snapshot,
) -> Response:
    """Save an upload (or a chunk of one) into the user's files."""
    if existing is not None:
        raise Refused(error(400, f"a {existing.type} is at {path}"))
    if path in snap.folders():
        raise Refused(error(400, f"{path} is a directory"))
    await need_folder(request, mine, path.rpartition("/")[0], snap)
    after, saved = await files.upload(request, mine, path, body, snap)
    entry = after.files.get(path) if saved else snap.files.get(path)
    if entry is None:  # a chunk of a new file: Jupyter answers with the model to be
        entry = FileEntry(path, "", 0)
    status = 200 if path in snap.files else 201
    return model_response(request, files.file_model(after, entry), status)


async def save(
    request: Request, mine: str, path: str, body: dict[str, Any], existing: Entry | None
) -> Response:
    if "content" not in body and existing is not None:
        raise Refused(error(400, "No file content provided"))
    try:
        data = notebook_bytes(body["content"]) if "content" in body else empty_notebook()
    except InvalidNotebook as exc:
        raise Refused(error(400, str(exc))) from None
    entry = await run(repository(request).save, mine, path, data, based_on(request))
    status = 201 if existing is None else 200
    return model_response(request, base_model(entry), status, entry)


# -- POST: new untitled, or a copy -------------------------------------------------------
async def post(request: Request) -> Response:
    path = path_of(request, changing=True)
    mine = owner(request)
    existing = await run(repository(request).get, mine, path) if path else None
    snap = await files.snapshot(request, mine)
    if (existing is not None and existing.type != store.DIRECTORY) or path in snap.files:
        raise Refused(error(400, "Cannot POST to files, use PUT instead."))
    await need_folder(request, mine, path, snap)
    body = await json_body(request) or {}
    if body.get("copy_from"):
        return await copy(request, mine, other_path(body["copy_from"]), path, snap)
    kind = body.get("type") or ""
    ext = body.get("ext") or ""
    if not isinstance(kind, str) or not isinstance(ext, str):
        raise Refused(error(400, "'type' and 'ext' must be strings"))
    kind = kind if kind in ("", *TYPES) else "file"
    return await new_untitled(request, mine, path, kind, ext, snap)


async def need_folder(request: Request, mine: str, folder: str, snap: Snapshot) -> None:
    """404 unless ``folder`` is a folder of the worksheet store or of the user's files."""
    found = await run(repository(request).get, mine, folder) if folder else None
    if folder in snap.folders():
        return
    if folder and (found is None or found.type != store.DIRECTORY):
        raise Refused(error(404, f"No such directory: {folder}"))


async def new_untitled(
    request: Request, mine: str, folder: str, kind: str, ext: str, snap: Snapshot
) -> Response:
    """A new notebook "Untitled.ipynb", folder "Untitled Folder" or file "untitled.txt" in
    ``folder``, named with the first number free, as Jupyter Server names them."""
    kind = kind or ("notebook" if ext == ".ipynb" else "file")
    base, insert = {
        "notebook": ("Untitled.ipynb", ""),
        "directory": ("Untitled Folder", " "),
        "file": (f"untitled{ext}", ""),
    }[kind]
    name = await free_name(request, mine, folder, base, insert, snap)
    path = join(folder, name)
    if kind == "file":
        after = await files.change(request, mine, [Put(path)], f"new {path}")
        return model_response(request, files.file_model(after, after.files[path]), 201)
    if kind == "directory":
        entry = await run(repository(request).make_folder, mine, path)
    else:
        entry = await run(repository(request).save, mine, path, empty_notebook(), None)
    return model_response(request, base_model(entry), 201, entry)


async def free_name(
    request: Request, mine: str, folder: str, name: str, insert: str, snap: Snapshot
) -> str:
    """``name``, or with ``insert`` and the first number that makes it free in ``folder``."""
    taken = {child.name for child in await run(repository(request).children, mine, folder)}
    taken |= {model["name"] for model in files.children(snap, folder, set())}
    stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    number = 0
    while (candidate := f"{stem}{insert}{number or ''}{dot}{ext}" if number else name) in taken:
        number += 1
    return candidate


async def copy(request: Request, mine: str, source: str, folder: str, snap: Snapshot) -> Response:
    """A copy of ``source`` in ``folder``, named "name-Copy1.ipynb" when its name is taken."""
    name = source.rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".") if "." in name[1:] else (name, "", "")
    stem = stem.rsplit("-Copy", 1)[0] if stem.rsplit("-Copy", 1)[-1].isdigit() else stem
    target = join(
        folder, await free_name(request, mine, folder, f"{stem}{dot}{ext}", "-Copy", snap)
    )
    if source in snap.files:
        after = await files.change(request, mine, [Copy(source, target)], f"copy {source}")
        return model_response(request, files.file_model(after, after.files[target]), 201)
    entry = await run(repository(request).copy, mine, source, target)
    return model_response(request, base_model(entry), 201, entry)


# -- PATCH (rename), DELETE: in both stores --------------------------------------------------
def in_files(snap: Snapshot, path: str) -> bool:
    return path in snap.files or path in snap.folders()


async def patch(request: Request) -> Response:
    path = path_of(request, changing=True)
    body = await json_body(request)
    if body is None:
        raise Refused(error(400, "JSON body missing"))
    new = other_path(body.get("path"))
    if not path:
        raise Refused(error(400, "Cannot rename the top directory"))
    mine = owner(request)
    snap = await files.snapshot(request, mine)
    target = await run(repository(request).get, mine, new) if new != path else None
    if new != path and (in_files(snap, new) or target is not None):
        raise Refused(error(409, f"File already exists: {new}"))
    entry = await run(repository(request).get, mine, path)
    if entry is not None and new != path:
        entry = await run(repository(request).rename, mine, path, new)
    if in_files(snap, path) and new != path:
        snap = await files.change(request, mine, [Rename(path, new)], f"rename {path}")
    if entry is None and new in snap.files:
        return model_response(request, files.file_model(snap, snap.files[new]))
    if entry is None and in_files(snap, new):
        return model_response(request, files.folder_stub(snap, new))
    if entry is None:
        raise Refused(error(404, f"File or directory does not exist: {path}"))
    return model_response(request, base_model(entry), entry=entry)


async def remove(request: Request) -> Response:
    path = path_of(request, changing=True)
    if not path:
        raise Refused(error(400, "Can't delete root"))
    mine = owner(request)
    snap = await files.snapshot(request, mine)
    if not in_files(snap, path):
        await run(repository(request).delete, mine, path)
        return Response(status_code=204)
    if await run(repository(request).get, mine, path) is not None:
        await run(repository(request).delete, mine, path)
    await files.change(request, mine, [Delete(path)], f"delete {path}")
    return Response(status_code=204)


# -- checkpoints: versions kept on purpose -------------------------------------------------
def checkpoint_model(version: store.Version) -> dict[str, str]:
    return {"id": str(version.number), "last_modified": iso(version.created)}


async def list_checkpoints(request: Request) -> Response:
    path = path_of(request, changing=False)
    versions = await run(repository(request).versions, owner(request), path)
    return JSONResponse([checkpoint_model(v) for v in reversed(versions) if v.checkpoint])


async def create_checkpoint(request: Request) -> Response:
    path = path_of(request, changing=True)
    version = await run(repository(request).mark_checkpoint, owner(request), path)
    model = checkpoint_model(version)
    where = f"{location(request, path)}/checkpoints/{model['id']}"
    return JSONResponse(model, status_code=201, headers={"Location": where})


def checkpoint_number(request: Request) -> int:
    raw = request.path_params["checkpoint_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise Refused(error(404, f"No such checkpoint: {raw}"))
    return int(raw)


async def restore_checkpoint(request: Request) -> Response:
    """Save the checkpoint's notebook as the worksheet's newest version."""
    path = path_of(request, changing=True)
    mine, number = owner(request), checkpoint_number(request)
    checkpoints = await run(repository(request).versions, mine, path)
    if not any(v.number == number and v.checkpoint for v in checkpoints):
        raise Refused(error(404, f"No such checkpoint: {number}"))
    _, data = await run(repository(request).content, mine, path, number)
    await run(repository(request).save, mine, path, data, None)
    return Response(status_code=204)


async def delete_checkpoint(request: Request) -> Response:
    path = path_of(request, changing=True)
    await run(
        repository(request).unmark_checkpoint, owner(request), path, checkpoint_number(request)
    )
    return Response(status_code=204)


Handler = Callable[[Request], Awaitable[Response]]
CHECKPOINTS = "/api/contents/{path:path}/checkpoints"
ENTRY_METHODS: list[tuple[Handler, str]] = [
    (get, "GET"),
    (put, "PUT"),
    (post, "POST"),
    (patch, "PATCH"),
    (remove, "DELETE"),
]
METHODS: list[tuple[str, Handler, str]] = [
    (CHECKPOINTS, list_checkpoints, "GET"),
    (CHECKPOINTS, create_checkpoint, "POST"),
    (CHECKPOINTS + "/{checkpoint_id}", restore_checkpoint, "POST"),
    (CHECKPOINTS + "/{checkpoint_id}", delete_checkpoint, "DELETE"),
    *[
        (each, handler, method)
        for each in ("/api/contents", "/api/contents/{path:path}")
        for handler, method in ENTRY_METHODS
    ],
]
ROUTES = [
    Guarded(Access.USER, Route(path, handler, methods=[method]), scope="files")
    for path, handler, method in METHODS
]
