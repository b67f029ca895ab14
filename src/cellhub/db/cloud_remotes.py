"""Repository for the cloud folders users link to their files (models.CloudRemote): the
only code that reads or writes that table.

A remote is its owner's alone: every call names the owner, so no path reaches another
user's remote. Blocking calls: the hub runs them in a thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from cellhub.db.models import CloudRemote
from cellhub.db.worksheets import aware, now


@dataclass(frozen=True)
class Remote:
    """A linked cloud folder; ``settings`` hold its secrets too."""

    name: str
    kind: str
    path: str
    folder: str
    settings: dict[str, str] = field(default_factory=dict)
    last_sync: dt.datetime | None = None
    last_result: str = ""


def remote_of(row: CloudRemote) -> Remote:
    settings: dict[str, Any] = row.settings or {}
    return Remote(
        row.name,
        row.kind,
        row.path,
        row.folder,
        {key: str(value) for key, value in settings.items()},
        aware(row.last_sync) if row.last_sync else None,
        row.last_result,
    )


class CloudRemoteRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def mine(self, owner: str) -> list[Remote]:
        with Session(self.engine) as db:
            rows = db.scalars(
                select(CloudRemote).where(CloudRemote.owner == owner).order_by(CloudRemote.name)
            )
            return [remote_of(row) for row in rows]

    def get(self, owner: str, name: str) -> Remote | None:
        with Session(self.engine) as db:
            row = db.get(CloudRemote, (owner, name))
            return remote_of(row) if row else None

    def put(self, owner: str, remote: Remote) -> None:
        """Link ``remote`` (or change the one of that name; its last sync stays)."""
        with Session(self.engine) as db, db.begin():
            row = db.get(CloudRemote, (owner, remote.name))
            if row is None:
                row = CloudRemote(owner=owner, name=remote.name, last_result="")
                db.add(row)
            row.kind, row.path, row.folder = remote.kind, remote.path, remote.folder
            row.settings = dict(remote.settings)

    def delete(self, owner: str, name: str) -> bool:
        with Session(self.engine) as db, db.begin():
            done = db.execute(
                delete(CloudRemote).where(CloudRemote.owner == owner, CloudRemote.name == name)
            )
            return bool(getattr(done, "rowcount", 0))

    def synced(self, owner: str, name: str, result: str, settings: dict[str, str]) -> Remote | None:
        """Record a sync's result, and the settings rclone left (a refreshed OAuth token);
        the remote as stored (None: unlinked meanwhile)."""
        with Session(self.engine) as db, db.begin():
            row = db.get(CloudRemote, (owner, name))
            if row is None:
                return None
            row.last_sync, row.last_result, row.settings = now(), result, dict(settings)
            return remote_of(row)
