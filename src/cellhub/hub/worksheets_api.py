"""A worksheet's version history, for cellhub's page: list the versions kept, open one,
restore one. Jupyter's contents API has no history (its checkpoints are the versions kept
on purpose, hub/contents_api.py); these routes sit beside it, over the same store and owner.

Restoring saves the old version as the newest one, so nothing is lost by it: the version it
replaces stays in the history. Like a save, a restore may name the version it was based on
(``If-Match``) and answers 409 when another tab or device saved since.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cellhub.hub.access import Access, Guarded
from cellhub.hub.contents_api import (
    MOST_VERSIONS,
    base_model,
    based_on,
    iso,
    model_response,
    owner,
    path_of,
    repository,
    run,
)
from cellhub.hub.json_api import Refused, error


def number_of(request: Request) -> int:
    number: int = request.path_params["number"]
    if number > MOST_VERSIONS:
        raise Refused(error(404, f"No such version: {number}"))
    return number


async def history(request: Request) -> Response:
    path = path_of(request, changing=False)
    mine = owner(request)
    entry = await run(repository(request).get, mine, path)
    versions = await run(repository(request).versions, mine, path)
    listed = [
        {
            "number": v.number,
            "created": iso(v.created),
            "size": v.size,
            "checkpoint": v.checkpoint,
        }
        for v in versions
    ]
    return JSONResponse({"current": entry.version if entry else 0, "versions": listed})


async def version(request: Request) -> Response:
    """The notebook as version ``number`` of it was saved (a model as the contents API's)."""
    path = path_of(request, changing=False)
    entry, data = await run(repository(request).content, owner(request), path, number_of(request))
    model = base_model(entry) | {"format": "json", "content": orjson.loads(data)}
    return JSONResponse(model)


async def restore(request: Request) -> Response:
    """Save version ``number`` as the newest; the answer is the worksheet as it now is."""
    path = path_of(request, changing=True)
    mine = owner(request)
    _, data = await run(repository(request).content, mine, path, number_of(request))
    entry = await run(repository(request).save, mine, path, data, based_on(request))
    model = base_model(entry) | {"format": "json", "content": orjson.loads(data)}
    return model_response(request, model, entry=entry)


ROUTES = [
    Guarded(
        Access.USER,
        Route("/api/worksheets/history/{path:path}", history, methods=["GET"]),
        scope="files",
    ),
    Guarded(
        Access.USER,
        Route("/api/worksheets/versions/{number:int}/{path:path}", version, methods=["GET"]),
        scope="files",
    ),
    Guarded(
        Access.USER,
        Route("/api/worksheets/restore/{number:int}/{path:path}", restore, methods=["POST"]),
        scope="files",
    ),
]
