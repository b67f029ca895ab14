"""Workers an administrator drained: each hub reads them from the database and places no new
kernel there.

An administrator drains a worker from the admin view (``POST /api/workers/drain``,
hub/workers_api.py) and activates it again the same way. The drain is a database row
(db/worker_drains.py) rather than an edit of the workers file: every hub reads its own copy
of that file, which deployment tools (or a person) own and may write over, while the
database is the one thing all hubs share. The hub that takes the request applies it at once;
the others within :data:`POLL` seconds, when :class:`AdminDrains` next reads the rows. A
drained worker's kernels go on, and it is listed as ``draining``; the workers file's own
``state = "draining"`` still works beside it, and activating here does not undo it.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.exc import SQLAlchemyError

from cellhub.db.worker_drains import WorkerDrainRepository
from cellhub.hub.placement import KernelPlacement
from cellhub.hub.workers import WorkerLink

#: Seconds between two reads of the drained workers.
POLL = 2.0
#: Seconds :meth:`AdminDrains.stop` waits for a read under way (a silent database is not
#: waited for longer).
STOP_WAIT = 5.0


class AdminDrains:
    """Keeps ``placement.held`` the set of drained workers the database lists."""

    def __init__(self, repository: WorkerDrainRepository, placement: KernelPlacement) -> None:
        self.repository = repository
        self.placement = placement
        self.task: asyncio.Task[None] | None = None
        #: The read under way in its thread, if any: cancelling the task does not end it.
        self.query: asyncio.Future[set[str]] | None = None

    async def start(self) -> None:
        await self.refresh()
        self.task = asyncio.get_running_loop().create_task(self.poll(), name="admin-drains")

    async def stop(self) -> None:
        """Stop polling; a read under way is waited for (up to :data:`STOP_WAIT` seconds),
        so that its connection is back in the pool before the engine is disposed."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.query is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.query), STOP_WAIT)

    async def poll(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            await self.refresh()

    async def refresh(self) -> None:
        """Read the drained workers; when the database does not answer, keep the last ones."""
        try:
            self.query = asyncio.ensure_future(asyncio.to_thread(self.repository.drained))
            self.placement.held = await asyncio.shield(self.query)
        except SQLAlchemyError as exc:
            WorkerLink.log(f"could not read the drained workers: {type(exc).__name__}")

    async def drain(self, address: str, by: str) -> None:
        await asyncio.to_thread(self.repository.drain, address, by)
        self.placement.held = self.placement.held | {address}
        WorkerLink.log(f"worker at {address} drained by {by}: it takes no new kernel")

    async def activate(self, address: str, by: str) -> None:
        await asyncio.to_thread(self.repository.activate, address)
        self.placement.held = self.placement.held - {address}
        WorkerLink.log(f"worker at {address} activated by {by}: it takes new kernels again")
