"""Repository for kernel records: the only code that reads or writes the kernels table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from cellhub.db import locks
from cellhub.db.models import Kernel

ENDED = "dead"
#: The state of a kernel's record while it lives (the live execution state is its worker's).
LIVE = "idle"


@dataclass(frozen=True)
class Reconciled:
    """What reconciling a worker changed: the kernels back, and those now dead."""

    revived: list[str]
    ended: list[str]


#: Built once: building the INSERT and binding its values per call cost more than twice the
#: CPU of running it (on SQLite), on the hub's share of every kernel start.
NEW_KERNEL = insert(Kernel)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KernelRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, kernel_id: str, name: str, worker: str, owner: str = "") -> None:
        """One INSERT, without the ORM's unit of work: this is on the session-start path."""
        stamp = now()
        row = {
            "id": kernel_id,
            "name": name,
            "worker": worker,
            "owner": owner,
            "state": LIVE,
            "reason": "",
            "created": stamp,
            "last_activity": stamp,
        }
        with self.engine.begin() as connection:
            connection.execute(NEW_KERNEL, row)

    def end(self, kernel_id: str, reason: str) -> None:
        with Session(self.engine) as db, db.begin():
            db.execute(
                update(Kernel)
                .where(Kernel.id == kernel_id, Kernel.state != ENDED)
                .values(state=ENDED, reason=reason, ended=now())
            )

    def end_on_worker(self, worker: str, reason: str) -> None:
        """End every live kernel recorded on ``worker``; those ended already keep their reason."""
        with self.engine.begin() as connection:
            connection.execute(
                update(Kernel)
                .where(Kernel.worker == worker, Kernel.state != ENDED)
                .values(state=ENDED, reason=reason, ended=now())
            )

    def reconcile(
        self, worker: str, running: Collection[str], stale: Collection[str], lost: str, gone: str
    ) -> Reconciled | None:
        """Make the records of ``worker`` agree with the kernels it is ``running``: those ended
        for the reason ``lost`` are live again, and the ``stale`` ones (recorded as live before
        the worker said what it runs, and not among them) are ended with the reason ``gone``;
        a kernel recorded since may be starting there. Once per deployment: None when another
        hub is doing it now."""
        with self.engine.begin() as connection:
            if not locks.once(connection, f"reconcile worker {worker}"):
                return None
            back = (Kernel.state == ENDED, Kernel.reason == lost, Kernel.id.in_(running))
            revived = connection.scalars(
                update(Kernel)
                .where(Kernel.worker == worker, *back)
                .values(state=LIVE, reason="", ended=None)
                .returning(Kernel.id)
            ).all()
            ended = connection.scalars(
                update(Kernel)
                .where(Kernel.worker == worker, Kernel.state != ENDED, Kernel.id.in_(stale))
                .values(state=ENDED, reason=gone, ended=now())
                .returning(Kernel.id)
            ).all()
            return Reconciled(list(revived), list(ended))

    def live_of(self, owner: str) -> set[str]:
        """The ids of ``owner``'s kernels whose records say they live."""
        with Session(self.engine) as db:
            query = select(Kernel.id).where(Kernel.owner == owner, Kernel.state != ENDED)
            return set(db.scalars(query))

    def get(self, kernel_id: str) -> Kernel | None:
        with Session(self.engine, expire_on_commit=False) as db:
            return db.get(Kernel, kernel_id)

    def live_on(self, worker: str) -> list[Kernel]:
        with Session(self.engine, expire_on_commit=False) as db:
            query = select(Kernel).where(Kernel.worker == worker, Kernel.state != ENDED)
            return list(db.scalars(query))

    def live(self) -> list[Kernel]:
        with Session(self.engine, expire_on_commit=False) as db:
            return list(
                db.scalars(select(Kernel).where(Kernel.state != ENDED).order_by(Kernel.created))
            )
