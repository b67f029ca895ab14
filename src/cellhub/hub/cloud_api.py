"""``/api/cloud/remotes``: the cloud folders a user links to a folder of their files, and
their syncs (storage/cloud_sync.py does them, through rclone).

- ``GET /api/cloud/remotes``: the user's remotes, the kinds on offer with their options,
  and whether this hub has rclone at all;
- ``PUT /api/cloud/remotes/{name}``: link a folder (or change a link), ``{"kind", "path",
  "folder", "settings"}``; a secret left out keeps the stored one;
- ``DELETE /api/cloud/remotes/{name}``: unlink (the user's files stay);
- ``POST /api/cloud/remotes/{name}/pull`` and ``/push``: one sync, answered when done.

A remote's secrets are never sent back: its model names which are set. A user reaches
only their own remotes (the owner comes from hub/owners.py; ``Access.USER``). Syncs run in
threads, at most :data:`SYNCS_AT_ONCE` on a hub at a time and one per user; a pull puts
what it brought into the homes of the user's running kernels, and a push first saves what
those kernels wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.config import Config
from cellhub.db.cloud_remotes import CloudRemoteRepository, Remote
from cellhub.hub.access import Access, Guarded
from cellhub.hub.contents_api import iso, owner
from cellhub.hub.contents_files import call
from cellhub.hub.contents_paths import BadPath, checked, is_hidden
from cellhub.hub.json_api import Refused, error, json_object
from cellhub.storage import cloud_sync
from cellhub.storage.cloud_sync import KINDS, NAME, CloudFailed, Synced
from cellhub.storage.user_files import UserFiles

SYNCS_AT_ONCE = 4
Sync = Callable[[UserFiles, str, Remote, Path, float], tuple[Remote, Synced]]


class CloudState:
    """A hub's remotes table and its bounds on syncs running at once."""

    def __init__(self, remotes: CloudRemoteRepository, work: Path) -> None:
        self.remotes = remotes
        self.work = work
        self.running = asyncio.Semaphore(SYNCS_AT_ONCE)
        self.users: dict[str, asyncio.Lock] = {}


def state(request: Request) -> CloudState:
    found: CloudState = request.app.state.cloud
    return found


def model(remote: Remote) -> dict[str, Any]:
    spec = KINDS[remote.kind]
    return {
        "name": remote.name,
        "kind": remote.kind,
        "path": remote.path,
        "folder": remote.folder,
        "settings": {k: v for k, v in remote.settings.items() if k in spec.settings},
        "secrets": sorted(k for k in remote.settings if k in spec.secrets),
        "last_sync": iso(remote.last_sync) if remote.last_sync else None,
        "last_result": remote.last_result,
    }


def kinds() -> dict[str, Any]:
    return {
        kind: {
            "title": spec.title,
            "settings": list(spec.settings),
            "secrets": list(spec.secrets),
            "choices": {key: list(values) for key, values in spec.choices},
        }
        for kind, spec in KINDS.items()
    }


async def failing(work: Any, *args: Any) -> Any:
    """``work`` in a thread, a :class:`CloudFailed` as the API's answer."""
    try:
        return await call(work, *args)
    except CloudFailed as exc:
        raise Refused(error(exc.status, str(exc))) from None


def name_of(request: Request) -> str:
    name: str = request.path_params["name"]
    if not NAME.match(name):
        raise Refused(error(400, "a name is 1 to 64 letters, digits, spaces, '_', '.' or '-'"))
    return name


async def mine_named(request: Request) -> tuple[str, Remote]:
    mine, name = owner(request), name_of(request)
    remote = await asyncio.to_thread(state(request).remotes.get, mine, name)
    if remote is None:
        raise Refused(error(404, f"no cloud folder named {name!r}"))
    return mine, remote


async def listing(request: Request) -> Response:
    remotes = await asyncio.to_thread(state(request).remotes.mine, owner(request))
    return JSONResponse(
        {
            "available": cloud_sync.rclone_path() is not None,
            "kinds": kinds(),
            "remotes": [model(remote) for remote in remotes],
        }
    )


def folder_of(body: dict[str, Any], name: str) -> str:
    raw = body.get("folder") or name
    try:
        folder = checked(raw) if isinstance(raw, str) else ""
    except BadPath as exc:
        raise Refused(error(400, f"folder: {exc}")) from None
    if not folder or is_hidden(folder):
        raise Refused(error(400, "folder: a visible folder of your files, not the top"))
    return folder


async def link(request: Request) -> Response:
    mine, name = owner(request), name_of(request)
    body = await json_object(request, "the body must be JSON", "the body must be an object")
    kind, settings, path = body.get("kind"), body.get("settings", {}), body.get("path", "")
    if not isinstance(kind, str) or not isinstance(settings, dict) or not isinstance(path, str):
        raise Refused(error(400, "'kind' and 'path' are text, 'settings' an object"))
    folder = folder_of(body, name)
    cloud = state(request)
    kept = await asyncio.to_thread(cloud.remotes.get, mine, name)
    origins = request.app.state.config.cloud_origins
    stored = kept.settings if kept and kept.kind == kind else {}
    checked_settings = await failing(cloud_sync.checked_settings, kind, settings, stored, origins)
    remote_path = await failing(cloud_sync.check_remote_path, path)
    remote = Remote(name, kind, remote_path, folder, checked_settings)
    if kept is not None:
        remote = replace(remote, last_sync=kept.last_sync, last_result=kept.last_result)
    await asyncio.to_thread(cloud.remotes.put, mine, remote)
    return JSONResponse(model(remote))


async def unlink(request: Request) -> Response:
    mine, name = owner(request), name_of(request)
    if not await asyncio.to_thread(state(request).remotes.delete, mine, name):
        raise Refused(error(404, f"no cloud folder named {name!r}"))
    return Response(status_code=204)


async def sync(request: Request, work: Sync, before: bool) -> JSONResponse:
    """One sync of the named remote, recorded; ``before``: save the kernels' homes first."""
    mine, remote = await mine_named(request)
    cloud, app = state(request), request.app
    config: Config = app.state.config
    async with cloud.users.setdefault(mine, asyncio.Lock()), cloud.running:
        if before:
            await app.state.home_sync.save_owner(app.state.kernels, mine)
        try:
            args = (app.state.user_files, mine, remote, cloud.work, config.cloud_sync_timeout)
            done, synced = await failing(work, *args)
        except Refused as exc:
            failed = f"failed: {orjson.loads(bytes(exc.response.body))['message']}"
            await asyncio.to_thread(
                cloud.remotes.synced, mine, remote.name, failed, remote.settings
            )
            raise
        stored = await asyncio.to_thread(
            cloud.remotes.synced, mine, remote.name, done.last_result, done.settings
        )
    return JSONResponse(
        {
            "remote": model(stored or done),
            "files": synced.files,
            "bytes": synced.size,
            "removed": synced.removed,
        }
    )


async def pull(request: Request) -> Response:
    answer = await sync(request, cloud_sync.pull, before=False)
    await request.app.state.home_sync.push(request.app.state.kernels, owner(request))
    return answer


async def push(request: Request) -> Response:
    return await sync(request, cloud_sync.push, before=True)


ROUTES = [
    Guarded(Access.USER, Route("/api/cloud/remotes", listing, methods=["GET"]), scope="files"),
    Guarded(
        Access.USER,
        Route("/api/cloud/remotes/{name}", link, methods=["PUT"]),
        scope="files",
    ),
    Guarded(
        Access.USER,
        Route("/api/cloud/remotes/{name}", unlink, methods=["DELETE"]),
        scope="files",
    ),
    Guarded(
        Access.USER, Route("/api/cloud/remotes/{name}/pull", pull, methods=["POST"]), scope="files"
    ),
    Guarded(
        Access.USER, Route("/api/cloud/remotes/{name}/push", push, methods=["POST"]), scope="files"
    ),
]
