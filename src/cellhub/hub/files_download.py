"""``GET /files/{path}``: a user's file as itself, as Jupyter Server's ``/files/`` serves it,
for downloads and for ``<img src>`` in the user's own pages.

A user's file is content anybody could have written (code in a session writes the home), so
it must never run on the hub's origin, where it would act with the user's login:

- only types that cannot run script are served as themselves (images but SVG, PDF, plain
  text, CSV, JSON); anything else, HTML and SVG above all, goes as
  ``application/octet-stream``, which a browser only saves;
- ``Content-Disposition`` is ``attachment`` (saved, not shown) unless the type is one of
  those and ``download=1`` is not asked, with the file's name in RFC 6266's UTF-8 form;
- ``Content-Security-Policy: default-src 'none'; sandbox``: even shown, the response runs
  nothing and has no origin (hub/security_headers.py adds ``nosniff``, so no browser
  guesses a more dangerous type from the bytes).

Only the owner reaches their files (``Access.USER``, owners from hub/owners.py); worksheets
are not served here (the contents API and the worksheet page serve them).
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cellhub.hub import contents_files as files
from cellhub.hub.access import Access, Guarded
from cellhub.hub.contents_api import owner, path_of
from cellhub.hub.json_api import Refused, error

#: Types shown as themselves; none of them runs script in a browser.
SHOWN = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
    }
)
POLICY = "default-src 'none'; sandbox"


def disposition(kind: str, name: str, download: bool) -> str:
    how = "attachment" if download or kind not in SHOWN else "inline"
    return f"{how}; filename*=UTF-8''{quote(name, safe='')}"


async def download(request: Request) -> Response:
    path = path_of(request, changing=False)
    mine = owner(request)
    snap = await files.snapshot(request, mine)
    entry = snap.files.get(path)
    if entry is None:
        raise Refused(error(404, f"No such file: {path}"))
    data: bytes = await files.call(files.store(request).read, mine, entry)
    guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
    kind = guessed if guessed in SHOWN else "application/octet-stream"
    asked = request.query_params.get("download", "0") not in ("0", "")
    headers = {
        "Content-Disposition": disposition(kind, entry.path.rsplit("/", 1)[-1], asked),
        "Content-Security-Policy": POLICY,
        "Cache-Control": "private, no-cache",
    }
    media = f"{kind}; charset=utf-8" if kind.startswith("text/") else kind
    return Response(data, headers=headers, media_type=media)


ROUTES = [
    Guarded(
        Access.USER, Route("/files/{path:path}", download, methods=["GET", "HEAD"]), scope="files"
    )
]
