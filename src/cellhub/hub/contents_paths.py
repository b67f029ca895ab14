"""Paths of a user's contents as the contents API takes them, checked before any lookup.

A path is what Jupyter Server calls an API path: names joined by ``/``, relative to the top
of the user's contents, "" being the top itself; leading and trailing slashes are dropped as
there. Names are compared in Unicode NFC, so that "é" typed on one system and on another
name the same worksheet. A path is refused (:class:`BadPath`) when a name is empty, ``.`` or
``..``, holds a backslash or a control character, or is too long: no path climbs out of the
user's contents or reaches another user's, as owners are never part of a path. A name that
starts with a dot is hidden, as with Jupyter Server: reading it answers 404, changing it 400.
"""

from __future__ import annotations

import unicodedata

#: Longest path and name, in UTF-8 bytes (a name: what most file systems take).
MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255


class BadPath(ValueError):
    """Not a path of the user's contents."""


def checked(raw: str) -> str:
    """The path in its one spelling (NFC, no outer slashes); :class:`BadPath` when it is none."""
    path = unicodedata.normalize("NFC", raw.strip("/"))
    if len(path.encode()) > MAX_PATH_BYTES:
        raise BadPath("path too long")
    if not path:
        return ""
    for name in path.split("/"):
        if name in ("", ".", ".."):
            raise BadPath(f"invalid path {raw!r}")
        if "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise BadPath(f"invalid character in {raw!r}")
        if len(name.encode()) > MAX_NAME_BYTES:
            raise BadPath("name too long")
    return path


def is_hidden(path: str) -> bool:
    return any(name.startswith(".") for name in path.split("/"))


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name
