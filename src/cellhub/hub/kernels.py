"""The hub's kernel operations: placement on workers, the database record, live state.

This is the one place that knows a kernel lives on a worker; the REST routes and
the WebSocket bridge only call it.

When a worker is lost (:mod:`cellhub.hub.workers`), every hub reports the kernels
recorded on it dead, "its host is unreachable", to its own clients and in the database
(the same write, whichever hub makes it first). When the worker is back, each hub
reconciles it: the kernels it still runs are listed and attachable again, and those it no
longer runs are dead; the database's part of that is done by one hub
(:meth:`KernelRepository.reconcile <cellhub.db.kernels.KernelRepository.reconcile>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from cellhub.db.kernels import KernelRepository
from cellhub.hub.channels import Client, KernelChannels
from cellhub.hub.kernel_offer import offered_kinds, offers
from cellhub.hub.placement import KernelPlacement
from cellhub.hub.workers import WorkerError, WorkerLink
from cellhub.log_records import service_logger
from cellhub.protocol.hub_worker import KernelModel, Missed

log = service_logger(__name__)

#: The kernel spec a start without a name gets, as with Jupyter Server.
KERNEL_NAME = "python3"
#: What a worker's failed start may mean that another worker can do better: it is full
#: (503), or the connection to it failed (502) or was not there (503).
TRY_ANOTHER = (502, 503)
#: Ended kernels whose reason the hub keeps in memory (a 404 says why without a query).
GONE_REMEMBERED = 4096
PER_OWNER_REFUSAL = "you already run {running} kernels, the most one client may; shut one down"
#: Why the kernels of a lost worker ended; those it still runs when it returns are back.
UNREACHABLE = "its host is unreachable"
#: Why a kernel recorded as live ended that its worker, reached again, no longer runs.
RESTARTED = "its worker no longer runs it (the worker restarted)"
#: Kernels as their workers report them, each with its worker.
Running = list[tuple[WorkerLink, KernelModel]]


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def jupyter_model(live: KernelModel) -> dict[str, Any]:
    """A kernel model with exactly the fields Jupyter Server returns; ``connections`` counts
    the kernel's clients on every hub (each hub tells the worker its own)."""
    return {
        "id": live["id"],
        "name": live["name"],
        "last_activity": iso(live["last_activity"]),
        "execution_state": live["execution_state"],
        "connections": live["connections"],
    }


def is_kernel_id(candidate: str) -> bool:
    """Kernel ids are UUIDs: anything else is no kernel, and never reaches the database."""
    try:
        return str(uuid.UUID(candidate)) == candidate
    except ValueError:
        return False


class NoSuchKernel(Exception):
    """No such kernel (or kernel spec); ``ended``: why the kernel ended, when it did."""

    def __init__(self, what: str, ended: str = "") -> None:
        super().__init__(what)
        self.ended = ended


class TooManyKernels(Exception):
    """The client already runs as many kernels as it may."""


@dataclass(frozen=True)
class OwnerLimit:
    """At most ``most`` live kernels for one owner (0: no limit); ``refusal`` says so, with
    ``{most}`` and ``{running}`` filled in."""

    most: int
    refusal: str


class OneAtATime:
    """A lock per key, kept only while someone holds or waits for it: one owner's kernel
    starts are counted and made one after the other, so that starts sent at the same moment
    cannot all pass a limit that only one of them may (each hub; several hubs would need a
    lock in the database)."""

    def __init__(self) -> None:
        self.locks: dict[str, asyncio.Lock] = {}
        self.users: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self.locks.setdefault(key, asyncio.Lock())
        self.users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self.users[key] -= 1
            if not self.users[key]:
                del self.users[key], self.locks[key]


class KernelService:
    """Start, find, restart and stop kernels across the connected workers."""

    def __init__(
        self, repository: KernelRepository, links: list[WorkerLink], max_per_owner: int = 0
    ) -> None:
        self.repository = repository
        self.max_per_owner = max_per_owner
        self.links = {link.address: link for link in links}
        self.located: dict[str, WorkerLink] = {}
        #: Why recently ended kernels ended, known before the database records it.
        self.gone: OrderedDict[str, str] = OrderedDict()
        self.placement = KernelPlacement(links)
        self.starts = OneAtATime()
        #: Per worker: a loss and a reconcile are handled one after the other, in order.
        self.outages = OneAtATime()
        #: Starts under way, and who is told each successful start's seconds (hub/metrics.py).
        self.starting = 0
        self.start_latency: Callable[[float], None] = lambda seconds: None

    async def start(
        self,
        name: str,
        owner: str = "",
        options: dict[str, Any] | None = None,
        limit: OwnerLimit | None = None,
    ) -> dict[str, Any]:
        """Start a kernel for ``owner``, with ``options`` (idle_timeout, max_lifetime) for it,
        within ``max_per_owner`` and ``limit``: :class:`TooManyKernels` past either. Counted
        in :attr:`starting` meanwhile, and timed from the request to the running kernel."""
        self.starting += 1
        began = time.monotonic()
        try:
            model = await self.start_within_limits(name, owner, options, limit)
        finally:
            self.starting -= 1
        self.start_latency(time.monotonic() - began)
        return model

    async def start_within_limits(
        self, name: str, owner: str, options: dict[str, Any] | None, limit: OwnerLimit | None
    ) -> dict[str, Any]:
        if name not in offered_kinds(self.links.values()):
            raise NoSuchKernel(f"no kernel spec named {name!r}")
        limits = [OwnerLimit(self.max_per_owner, PER_OWNER_REFUSAL), *([limit] if limit else [])]
        limits = [each for each in limits if each.most]
        if not limits:  # nothing to count: the owner's starts need not wait for each other
            return await self.start_on_worker(name, owner, options)
        async with self.starts.hold(owner):
            await self.check_room(owner, limits)
            return await self.start_on_worker(name, owner, options)

    async def check_room(self, owner: str, limits: list[OwnerLimit]) -> None:
        """Refuse a start past any of ``limits``. A kernel this hub knows has ended no longer
        counts, though its record may not say so yet: a reloaded page's shutdown answered 404
        while the old page's is still writing the end must leave room for its next start."""
        recorded = await asyncio.to_thread(self.repository.live_of, owner)
        running = len(recorded - self.gone.keys())
        for each in limits:
            if running >= each.most:
                raise TooManyKernels(each.refusal.format(most=each.most, running=running))

    async def start_on_worker(
        self, name: str, owner: str, options: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Start the kernel on the best worker that offers its kind (see
        :mod:`cellhub.hub.placement`); one that is full or cannot be reached passes it to the
        next, each tried once."""
        for link in self.placement.candidates():
            if not offers(link, name):
                continue
            try:
                return await self.start_there(link, name, owner, options)
            except WorkerError as exc:
                if exc.status not in TRY_ANOTHER:
                    raise
                if exc.status == 503:
                    self.placement.full(link)
        raise self.placement.none_free()

    async def start_there(
        self, link: WorkerLink, name: str, owner: str, options: dict[str, Any] | None
    ) -> dict[str, Any]:
        kernel_id = str(uuid.uuid4())
        # The record and the session are made at the same time: start-up pays for the slower.
        record = asyncio.create_task(
            asyncio.to_thread(self.repository.add, kernel_id, name, link.address, owner)
        )
        try:
            live = await link.start_kernel(kernel_id, name, options)
        except BaseException:
            await record
            await asyncio.to_thread(self.repository.end, kernel_id, "failed to start")
            raise
        await record
        self.located[kernel_id] = link
        return jupyter_model(live)

    async def locate(self, kernel_id: str) -> WorkerLink:
        link = self.located.get(kernel_id)
        if link is not None:
            return link
        if not is_kernel_id(kernel_id):
            raise NoSuchKernel(kernel_id)
        if kernel_id in self.gone:
            raise NoSuchKernel(kernel_id, self.gone[kernel_id])
        record = await asyncio.to_thread(self.repository.get, kernel_id)
        if record is not None and record.state == "dead":
            raise NoSuchKernel(kernel_id, record.reason)
        if record is None or record.worker not in self.links:
            raise NoSuchKernel(kernel_id)
        link = self.links[record.worker]
        if link.lost:  # the database may not say so yet
            raise NoSuchKernel(kernel_id, UNREACHABLE)
        self.located[kernel_id] = link
        return link

    async def list_for(self, owner: str | None) -> list[dict[str, Any]]:
        """The kernels ``owner`` started (an anonymous client's list); None: every kernel."""
        if owner is None:
            return await self.list()
        mine = {
            record.id
            for record in await asyncio.to_thread(self.repository.live)
            if record.owner == owner
        }
        return [model for model in await self.list() if model["id"] in mine]

    async def get(self, kernel_id: str) -> dict[str, Any]:
        link = await self.locate(kernel_id)
        found = await link.list_kernels([kernel_id])
        if not found:
            # The worker's own word on why (sent before this answer) stands when it came first.
            if kernel_id not in self.gone:
                self.ended(kernel_id, "not found on its worker", announce=True)
            raise NoSuchKernel(kernel_id, self.gone.get(kernel_id, ""))
        return jupyter_model(found[0])

    async def list(self) -> list[dict[str, Any]]:
        """The kernels of the connected workers; one that fails to answer is left out."""
        return [jupyter_model(live) for _, live in await self.running()]

    async def running(self) -> Running:
        """Each kernel of the connected workers as its worker reports it, with its worker."""
        found: Running = []
        for link in list(self.links.values()):  # workers may join or leave meanwhile
            if link.connected.is_set():
                try:
                    kernels = await link.list_kernels()
                except WorkerError:
                    continue
                for live in kernels:
                    self.located.setdefault(live["id"], link)
                    found.append((link, live))
        return found

    # -- workers that join and leave while the hub runs (hub/roster.py) -------------------
    def add_link(self, link: WorkerLink) -> None:
        """Use ``link``'s worker too, once it is connected (the caller starts the link)."""
        self.links[link.address] = link
        self.placement.add(link)

    def remove_link(self, link: WorkerLink) -> None:
        """Use ``link``'s worker no more (the caller stops the link): it is then no kernel's
        location, so only remove a worker that runs no kernel (:meth:`runs_none`)."""
        self.links.pop(link.address, None)
        self.placement.remove(link)
        for kernel_id in [k for k, where in self.located.items() if where is link]:
            del self.located[kernel_id]

    async def runs_none(self, link: WorkerLink) -> bool:
        """Whether ``link``'s worker runs no kernel, of any hub: the worker says so when it is
        connected; else the database, which records every hub's kernels (a worker that cannot
        be reached may still run some, until they are recorded as dead)."""
        if link.connected.is_set():
            return not await link.list_kernels()
        records = await asyncio.to_thread(self.repository.live)
        return not any(record.worker == link.address for record in records)

    async def owns(self, kernel_id: str, owner: str) -> bool:
        """Whether the kernel was started by ``owner``; ids that are no kernel's are nobody's."""
        if not is_kernel_id(kernel_id):
            return False
        record = await asyncio.to_thread(self.repository.get, kernel_id)
        return record is not None and record.owner == owner

    async def attach(self, kernel_id: str) -> KernelChannels:
        """The kernel's clients on this hub, whose output its worker sends here from now on;
        a client added to them leaves with :meth:`detach`."""
        return (await self.locate(kernel_id)).channels_for(kernel_id)

    def carrying(self, channels: KernelChannels) -> WorkerLink | None:
        """The worker link that ``channels`` hang on (None once the last client has left)."""
        for link in self.links.values():
            if link.channels.get(channels.kernel_id) is channels:
                return link
        return None

    async def replay(self, channels: KernelChannels, after: int) -> Missed:
        """The kernel's output numbered above ``after`` that its worker still holds."""
        link = self.carrying(channels)
        if link is None:
            raise NoSuchKernel(channels.kernel_id)
        return await link.replay(channels.kernel_id, after)

    def forward(self, channels: KernelChannels, channel: str, msg_type: str, data: bytes) -> None:
        """Pass a client's checked message to the kernel."""
        link = self.carrying(channels)
        if link is not None:
            link.forward(channels.kernel_id, channel, msg_type, data)

    def carried(self) -> int:
        """The WebSocket clients attached through this hub, to any kernel (a kernel's model
        counts its clients on every hub)."""
        return sum(
            len(each.clients) for link in self.links.values() for each in link.channels.values()
        )

    def detach(self, channels: KernelChannels, client: Client) -> None:
        """``client`` has gone; the worker stops sending here once the last one has."""
        channels.remove(client)
        link = self.carrying(channels)
        if link is not None:
            link.release(channels.kernel_id)

    async def interrupt(self, kernel_id: str) -> None:
        await (await self.locate(kernel_id)).interrupt_kernel(kernel_id)

    async def restart(self, kernel_id: str) -> dict[str, Any]:
        link = await self.locate(kernel_id)
        live = await link.restart_kernel(kernel_id)
        return jupyter_model(live)

    async def shutdown(self, kernel_id: str) -> None:
        link = await self.locate(kernel_id)
        await link.shutdown_kernel(kernel_id)
        await asyncio.to_thread(self.repository.end, kernel_id, "shut down by request")
        self.located.pop(kernel_id, None)

    def ended(self, kernel_id: str, reason: str, announce: bool) -> None:
        """The kernel is gone (crash, cull, shutdown): record it. ``announce``: tell its
        clients, when the gone kernel's worker did not (it is no longer there to)."""
        self.forget(kernel_id, reason, announce)
        in_background(asyncio.to_thread(self.repository.end, kernel_id, reason))

    def forget(self, kernel_id: str, reason: str, announce: bool) -> None:
        """This hub's part of a kernel's end: no longer located, the reason kept for a 404,
        the clients here told (when ``announce``) and let go."""
        self.located.pop(kernel_id, None)
        self.gone[kernel_id] = reason
        if len(self.gone) > GONE_REMEMBERED:
            self.gone.popitem(last=False)
        for link in self.links.values():
            channels = link.channels.get(kernel_id)
            if channels is not None:
                channels.kernel_gone(reason, announce)

    def known_on(self, link: WorkerLink) -> set[str]:
        """The kernels this hub knows to be on ``link``'s worker: attached or located."""
        return set(link.channels) | {k for k, there in self.located.items() if there is link}

    def lost(self, link: WorkerLink) -> None:
        """``link``'s worker is lost: its kernels are dead, "its host is unreachable"."""
        for kernel_id in self.known_on(link):
            self.forget(kernel_id, UNREACHABLE, announce=True)
        in_background(self.record_lost(link.address))

    async def record_lost(self, address: str) -> None:
        async with self.outages.hold(address):
            await asyncio.to_thread(self.repository.end_on_worker, address, UNREACHABLE)

    async def reconcile(self, links: Iterable[WorkerLink] | None = None) -> None:
        """After a (re)start or a reconnect: no kernel listed that its worker does not run,
        none lost that it does."""
        for link in links or list(self.links.values()):
            async with self.outages.hold(link.address):
                await self.reconcile_one(link)

    async def reconcile_one(self, link: WorkerLink) -> None:
        """This hub's view first, then the database's, by whichever hub gets there first. The
        records are read before the worker's list: a kernel recorded after it may be starting
        there, and is not taken for one the worker no longer runs."""
        recorded = {r.id for r in await asyncio.to_thread(self.repository.live_on, link.address)}
        running = {k["id"] for k in await link.list_kernels()}
        for kernel_id in running:
            if self.gone.get(kernel_id, UNREACHABLE) == UNREACHABLE:
                self.gone.pop(kernel_id, None)
                self.located[kernel_id] = link
        for kernel_id in (recorded | self.known_on(link)) - running:
            if kernel_id not in self.gone:
                self.forget(kernel_id, RESTARTED, announce=True)
        done = await asyncio.to_thread(
            self.repository.reconcile,
            link.address,
            running,
            recorded - running,
            UNREACHABLE,
            RESTARTED,
        )
        if done is None:
            WorkerLink.log(f"another hub reconciles worker {link.address}")
        else:
            WorkerLink.log(
                f"reconciled worker {link.address}: {len(done.revived)} kernel(s) it still "
                f"runs are back, {len(done.ended)} it no longer runs are dead"
            )


#: The tasks :func:`in_background` runs, held until they finish: the event loop keeps only
#: a weak reference to a task, and one nobody holds may be collected before it is done.
BACKGROUND: set[asyncio.Task[None]] = set()


def in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` without waiting for it; report, not raise, what goes wrong."""

    def report(task: asyncio.Task[None]) -> None:
        BACKGROUND.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%r", task.exception())

    task = asyncio.get_running_loop().create_task(work)
    BACKGROUND.add(task)
    task.add_done_callback(report)
