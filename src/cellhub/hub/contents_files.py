"""The files half of the contents API (hub/contents_api.py): a user's files (type "file") and
the folders that hold them, over their git repository (storage/user_files.py).

One tree: worksheets (.ipynb) and folders made by hand stay in the worksheet store, every
other file is in the git repository, and a folder's listing is both. A folder exists when
the worksheet store has it or a file is in it (git keeps no empty folder); where a worksheet
and a file have the same path, the worksheet is listed and the file is not. Renaming or
deleting a folder does it in both stores. The models are Jupyter Server's: a file's content
is text (``format`` "text") when it is UTF-8, base64 otherwise or when asked, and its times
are those of the save that made the files as they are (git keeps no time per file).

Uploads come whole (``content`` in ``format`` "text" or "base64") or, as JupyterLab sends
large files, in chunks (``chunk`` 1, 2, … and -1 for the last), kept in the database until
the last one arrives, so any hub may take any chunk. A save that would put the user's files
over ``user_files_quota`` answers 413 with a message naming the quota.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from cellhub.db.file_bundles import FileBundleRepository, Moved
from cellhub.hub.json_api import Refused, error
from cellhub.storage.git_bundles import Change, FileEntry, GitFailed, Put
from cellhub.storage.user_files import QuotaExceeded, Snapshot, UserFiles, amount

FILE = "file"


def store(request: Request) -> UserFiles:
    files: UserFiles = request.app.state.user_files
    return files


async def call(work: Any, *args: Any) -> Any:
    """A store call in a thread, its failures as the contents API's answers."""
    try:
        return await asyncio.to_thread(work, *args)
    except QuotaExceeded as exc:
        raise Refused(error(413, str(exc))) from None
    except Moved as exc:
        raise Refused(error(409, str(exc))) from None
    except GitFailed as exc:
        raise Refused(error(400, f"the files could not be changed: {exc}")) from None


async def snapshot(request: Request, mine: str) -> Snapshot:
    found: Snapshot = await call(store(request).snapshot, mine)
    return found


async def change(request: Request, mine: str, changes: Sequence[Change], what: str) -> Snapshot:
    """Change the user's files, and put the change into the homes of their running kernels
    (hub/home_sync.py) before answering, so a cell run next finds it."""
    done: Snapshot = await call(store(request).change, mine, changes, what)
    await request.app.state.home_sync.push(request.app.state.kernels, mine)
    return done


def file_model(snap: Snapshot, entry: FileEntry) -> dict[str, Any]:
    stamp = snap.updated.isoformat().replace("+00:00", "Z")
    return {
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "type": FILE,
        "created": stamp,
        "last_modified": stamp,
        "content": None,
        "format": None,
        "mimetype": None,
        "size": entry.size,
        "writable": True,
    }


def folder_stub(snap: Snapshot, path: str) -> dict[str, Any]:
    stamp = snap.updated.isoformat().replace("+00:00", "Z")
    name = path.rsplit("/", 1)[-1]
    return {
        **file_model(snap, FileEntry(path, "", 0)),
        "name": name,
        "type": "directory",
        "size": None,
        "created": stamp,
    }


def children(snap: Snapshot, folder: str, taken: set[str]) -> list[dict[str, Any]]:
    """The models of the files and folders of the repository directly in ``folder``, but for
    the names in ``taken`` (the worksheet store's entries there)."""
    prefix = f"{folder}/" if folder else ""
    found: dict[str, dict[str, Any]] = {}
    for path, entry in snap.files.items():
        if not path.startswith(prefix):
            continue
        name, _, rest = path[len(prefix) :].partition("/")
        if name in taken or name in found or name.startswith("."):
            continue
        found[name] = folder_stub(snap, prefix + name) if rest else file_model(snap, entry)
    return list(found.values())


async def with_content(
    request: Request,
    mine: str,
    snap: Snapshot,
    entry: FileEntry,
    fmt: str | None,
    wanted: tuple[bool, bool],
) -> dict[str, Any]:
    """A file's model with its content (``wanted[0]``: text when it is UTF-8 or asked,
    base64 otherwise) and its hash (``wanted[1]``)."""
    data: bytes = await call(store(request).read, mine, entry)
    model = file_model(snap, entry)
    content, hashed = wanted
    if hashed:
        model.update(hash=hashlib.sha256(data).hexdigest(), hash_algorithm="sha256")
    if not content:
        return model
    text = None
    if fmt != "base64":
        try:
            text = data.decode()
        except UnicodeDecodeError:
            if fmt == "text":
                raise Refused(error(400, f"{entry.path} is not UTF-8 encoded")) from None
    if text is not None:
        model.update(format="text", mimetype="text/plain", content=text)
    else:
        guessed = mimetypes.guess_type(entry.path)[0] or "application/octet-stream"
        model.update(format="base64", mimetype=guessed, content=base64.b64encode(data).decode())
    return model


def decoded(body: dict[str, Any]) -> bytes:
    """The bytes a save sends (``format`` "text" or "base64")."""
    content, fmt = body.get("content"), body.get("format")
    if not isinstance(content, str):
        raise Refused(error(400, "No file content provided"))
    if fmt == "text":
        return content.encode()
    if fmt == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(error(400, "the content is not valid base64")) from None
    raise Refused(error(400, "Must specify format of file contents as 'text' or 'base64'"))


async def upload(
    request: Request, mine: str, path: str, body: dict[str, Any], before: Snapshot
) -> tuple[Snapshot, bool]:
    """Save the upload (or its chunk) at ``path``; the files after it, and whether the file
    is saved (False: a chunk kept for later)."""
    data = decoded(body)
    chunk = body.get("chunk")
    if chunk is None:
        return await change(request, mine, [Put(path, data)], f"upload {path}"), True
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk == 0 or chunk < -1:
        raise Refused(error(400, f"invalid chunk {chunk!r}"))
    bundles: FileBundleRepository = store(request).bundles
    number = chunk if chunk > 0 else 2**31 - 1
    held: int = await call(bundles.add_chunk, mine, path, number, data)
    quota = store(request).quota
    if held + sum(e.size for p, e in before.files.items() if p != path) > quota:
        await call(bundles.take_chunks, mine, path)
        message = f"this upload would put your files over your quota of {amount(quota)}"
        raise Refused(error(413, f"{message} (user_files_quota); delete some files first"))
    if chunk != -1:
        return before, False
    whole: bytes = await call(bundles.take_chunks, mine, path)
    return await change(request, mine, [Put(path, whole)], f"upload {path}"), True
