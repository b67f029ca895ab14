"""Repository for kernel records: the only code that reads or writes the kernels table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from cellhub.db.models import Kernel

ENDED = "dead"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KernelRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, kernel_id: str, name: str, worker: str, owner: str = "") -> None:
        """One INSERT, without the ORM's unit of work: this is on the session-start path."""
        stamp = now()
        with self.engine.begin() as connection:
            connection.execute(
                insert(Kernel).values(
                    id=kernel_id,
                    name=name,
                    worker=worker,
                    owner=owner,
                    state="idle",
                    reason="",
                    created=stamp,
                    last_activity=stamp,
                )
            )

    def end(self, kernel_id: str, reason: str) -> None:
        with Session(self.engine) as db, db.begin():
            db.execute(
                update(Kernel)
                .where(Kernel.id == kernel_id, Kernel.state != ENDED)
                .values(state=ENDED, reason=reason, ended=now())
            )

    def count_live(self, owner: str) -> int:
        with Session(self.engine) as db:
            query = select(func.count()).where(Kernel.owner == owner, Kernel.state != ENDED)
            return int(db.scalar(query) or 0)

    def get(self, kernel_id: str) -> Kernel | None:
        with Session(self.engine, expire_on_commit=False) as db:
            return db.get(Kernel, kernel_id)

    def live(self) -> list[Kernel]:
        with Session(self.engine, expire_on_commit=False) as db:
            return list(
                db.scalars(select(Kernel).where(Kernel.state != ENDED).order_by(Kernel.created))
            )
