"""The static files: the built front end in ``cellhub/static/``, served at ``/static/`` by the
hub itself (:func:`static_mount`) or, in front of it, by nginx (deploy/templates/nginx.conf.j2),
and the URLs the hub's pages (and Sage's 3-D plots, session/sage.py) name them by.

Of these files only the fonts have content-hashed names (esbuild's ``fonts/[name]-[hash]``).
``app.js``, ``app.css`` and the rest keep their names: embed.js must, as other sites' pages
name it, and app.js finds widgets.js next to itself. So the pages name their files with
``?v=`` and a hash of the content (:func:`versioned_url`): a new release is a new address,
which nginx lets browsers keep for a year, while an unversioned name is revalidated on each use.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import Mount

#: The folder of the installed package's built front end (what nginx serves too).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static/"
#: Hex digits of the content hash in a versioned URL: enough that releases never collide.
VERSION_DIGITS = 12


@functools.cache
def versioned_url(name: str) -> str:
    """``/static/NAME?v=HASH``; the bare URL when the file is not there (a checkout whose
    front end is not built), which then answers 404 either way."""
    try:
        content = (STATIC_DIR / name).read_bytes()
    except FileNotFoundError:
        return STATIC_URL + name
    return f"{STATIC_URL}{name}?v={hashlib.sha256(content).hexdigest()[:VERSION_DIGITS]}"


def static_mount() -> Mount:
    # Starlette only here: Sage's template names a static file too (session/sage.py,
    # versioned_url) and imports no web framework for it.
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Mount(STATIC_URL.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="static")
