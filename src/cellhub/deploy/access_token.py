"""The deployment's access token, kept in the data dir so that a restart keeps it.

``cellhub serve`` (and ``cellhub hub``) print an address ending in ``?token=…``; a person
bookmarks it, or a script keeps the token. Both should keep working after a restart, so a
generated token is written to ``token`` in the data dir (mode 0600, inside the 0700 data
dir, which sessions cannot see) and read back on the next start. A token given in the
configuration wins and is not written. ``--new-token`` replaces the stored one: every
address and login cookie made with the old one stops working.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "token"


def stored_token(data_dir: Path) -> str:
    """The token kept in ``data_dir`` ("" if none): what `cellhub workers` asks a hub with."""
    try:
        return (data_dir / FILE_NAME).read_text().strip()
    except FileNotFoundError:
        return ""


def access_token(data_dir: Path, configured: str, *, renew: bool = False) -> str:
    """The token to serve with: the configured one, else the stored one, else a new one."""
    if configured:
        return configured
    path = data_dir / FILE_NAME
    if not renew:
        stored = stored_token(data_dir)
        if stored:
            return stored
    token = secrets.token_urlsafe(24)
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    os.replace(partial, path)
    return token
