"""Repository for the workers administrators drained: the only code that reads or writes the
worker_drains table.

A drain is a row: every hub reads the rows (hub/drains.py) and places no new kernel on
those workers; activating a worker deletes its row. In the database, not in one hub's
memory, so that a drain made through one hub holds for all of them, and after restarts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from cellhub.db.models import WorkerDrain


class WorkerDrainRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def drain(self, address: str, by: str) -> None:
        """Drain the worker at ``address`` (again: nothing changes)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(WorkerDrain).values(
                        address=address, since=dt.datetime.now(dt.UTC), by=by
                    )
                )
        except IntegrityError:
            return  # drained already

    def activate(self, address: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(WorkerDrain).where(WorkerDrain.address == address))

    def drained(self) -> set[str]:
        """The addresses of the drained workers."""
        with self.engine.connect() as connection:
            return set(connection.scalars(select(WorkerDrain.address)))
