"""Repository for Jupyter sessions: the only code that reads or writes jupyter_sessions.

A row ties a path (and its name and type) to a kernel, for an owner. Rows are the
deployment's, in its database, so that a session made through one hub is served by
every hub. Whether the kernel still lives is the kernel service's to say, not this
table's: the hub drops a row whose kernel is gone when it reads it (as Jupyter Server does).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from cellhub.db.models import JupyterSession


@dataclass(frozen=True)
class SessionRecord:
    """A Jupyter session as callers see it."""

    id: str
    path: str
    name: str
    type: str
    kernel_id: str
    owner: str


#: The columns of a SessionRecord, in its order.
COLUMNS = (
    JupyterSession.id,
    JupyterSession.path,
    JupyterSession.name,
    JupyterSession.type,
    JupyterSession.kernel_id,
    JupyterSession.owner,
)


class JupyterSessionRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, record: SessionRecord) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(JupyterSession).values(
                    id=record.id,
                    path=record.path,
                    name=record.name,
                    type=record.type,
                    kernel_id=record.kernel_id,
                    owner=record.owner,
                    created=dt.datetime.now(dt.UTC),
                )
            )

    def get(self, session_id: str) -> SessionRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(*COLUMNS).where(JupyterSession.id == session_id)
            ).first()
        return SessionRecord(*row) if row is not None else None

    def listed(self, owner: str | None = None, path: str | None = None) -> list[SessionRecord]:
        """Every session, or those of ``owner`` (None: anyone's), of ``path`` (None: any)."""
        query = select(*COLUMNS).order_by(JupyterSession.created)
        if owner is not None:
            query = query.where(JupyterSession.owner == owner)
        if path is not None:
            query = query.where(JupyterSession.path == path)
        with self.engine.connect() as connection:
            return [SessionRecord(*row) for row in connection.execute(query)]

    def change(self, session_id: str, **changes: str) -> None:
        """Set some of ``path``, ``name``, ``type``, ``kernel_id``."""
        if changes:
            with self.engine.begin() as connection:
                connection.execute(
                    update(JupyterSession).where(JupyterSession.id == session_id).values(**changes)
                )

    def remove(self, session_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(JupyterSession).where(JupyterSession.id == session_id))
