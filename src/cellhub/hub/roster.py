"""The workers file: which workers a hub uses, read again whenever it changes, so that
workers join, drain and leave while every hub goes on serving.

The file is TOML, one ``[[worker]]`` table per worker::

    [[worker]]
    name = "worker-1"            # what people call it (`cellhub workers`); unique
    address = "192.0.2.2:7000"   # HOST:PORT (mutual TLS) or unix:/PATH; unique
    weight = 2                   # capacity weight above 0 (default 1)
    state = "draining"           # "active" (default) or "draining"

:func:`parse_roster` reads it, or raises :class:`RosterError` naming the problem and its
line. :class:`WorkerRoster` keeps a hub's workers as the file says: a worker added is
connected, reconciled and used; one set to draining takes no new kernel while its kernels
go on; one removed is drained the same way, and disconnected once it runs no kernel of any
hub. Placement ranks a worker by its free sessions times its weight
(:mod:`cellhub.hub.placement`). The roster watches the file's folder, since editors and
deployment tools replace a file by renaming another onto it, and applies each valid change;
an invalid one is logged and the last valid list stays in force. A worker is known by its
address: a new name is the same worker renamed, a new address another worker.
"""

from __future__ import annotations

import asyncio
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import watchfiles

from cellhub.hub.kernels import KernelService
from cellhub.hub.workers import WorkerError, WorkerLink
from cellhub.protocol import addresses, hub_worker

STATES = ("active", "draining")
#: The state of a worker removed from the file that still runs kernels.
REMOVED = "removed-draining"
FIELDS = ("name", "address", "weight", "state")
#: A ``[[worker]]`` table's header: an error in a table names the header's line.
HEADER = re.compile(r"""\s*\[\[\s*(worker|"worker"|'worker')\s*\]\]""")
#: Seconds a hub waits for a worker to connect before it serves without it (and keeps trying).
CONNECT_WAIT = 10.0
#: Seconds between two checks whether a removed worker still runs a kernel.
DRAIN_CHECK = 1.0


@dataclass(frozen=True)
class WorkerEntry:
    """One worker of the workers file."""

    name: str
    address: str
    weight: float = 1.0
    state: str = "active"


class RosterError(ValueError):
    """The workers file is not a valid list of workers; the message says what and where."""


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read it: {exc}") from None


def read_roster(path: Path) -> list[WorkerEntry]:
    """The workers the file at ``path`` lists, or :class:`RosterError`."""
    return parse_roster(read_text(path))


def parse_roster(text: str) -> list[WorkerEntry]:
    """The workers ``text`` lists, in its order, or :class:`RosterError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RosterError(f"not TOML: {exc}") from None
    unknown = sorted(set(data) - {"worker"})
    if unknown:
        raise RosterError(f"unknown key {unknown[0]!r}: the file holds [[worker]] tables only")
    tables = data.get("worker")
    if not isinstance(tables, list) or not tables:
        raise RosterError("no [[worker]] table: a hub needs at least one worker")
    headers = [n for n, line in enumerate(text.splitlines(), 1) if HEADER.match(line)]
    if len(headers) == len(tables):
        places = [f"line {n}" for n in headers]
    else:  # tables written inline, as worker = [{...}]
        places = [f"worker {n}" for n in range(1, len(tables) + 1)]
    entries = [entry_of(table, place) for table, place in zip(tables, places, strict=True)]
    for key in ("name", "address"):
        first: dict[str, str] = {}
        for entry, place in zip(entries, places, strict=True):
            value = getattr(entry, key)
            if value in first:
                raise RosterError(f"{place}: {key} {value!r} is also that of {first[value]}")
            first[value] = place
    return entries


def entry_of(table: Any, place: str) -> WorkerEntry:
    """One ``[[worker]]`` table at ``place`` (its line), checked."""
    if not isinstance(table, dict):
        raise RosterError(f"{place}: a worker is a table (name, address, weight, state)")
    name, address = table.get("name"), table.get("address")
    if not isinstance(name, str) or not name.strip():
        raise RosterError(f"{place}: a worker needs a name")
    place = f"{place}, worker {name!r}"
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise RosterError(f"{place}: unknown key {unknown[0]!r} (a worker has {', '.join(FIELDS)})")
    if not isinstance(address, str):
        raise RosterError(f"{place}: a worker needs an address (HOST:PORT or unix:/PATH)")
    problem = addresses.address_error(address)
    if problem is not None:
        raise RosterError(f"{place}: address {address!r}: {problem}")
    weight = table.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < math.inf:
        raise RosterError(f"{place}: weight must be a number above 0, not {weight!r}")
    state = table.get("state", "active")
    if state not in STATES:
        raise RosterError(f"{place}: state must be 'active' or 'draining', not {state!r}")
    return WorkerEntry(name, address, float(weight), state)


class WorkerRoster:
    """A hub's workers as the workers file at ``path`` lists them, kept so as it changes.

    ``link_to(address)`` makes the hub's link to a worker (not started yet); the roster adds
    it to ``service`` and starts it, and removes and stops it once the worker has left.
    """

    def __init__(
        self, path: Path, service: KernelService, link_to: Callable[[str], WorkerLink]
    ) -> None:
        self.path = path
        self.service = service
        self.link_to = link_to
        #: The workers of the list in force, by address.
        self.listed: dict[str, WorkerEntry] = {}
        #: The workers removed from the file that may still run kernels, by address.
        self.leaving: dict[str, tuple[WorkerEntry, asyncio.Task[None]]] = {}
        #: The links being connected, by address.
        self.joining: dict[str, asyncio.Task[None]] = {}
        #: The file's text when last read: an unchanged file is neither applied nor reported.
        self.seen = ""
        self.stopping = asyncio.Event()
        self.watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Apply the file (:class:`RosterError` when it is not valid), wait up to
        :data:`CONNECT_WAIT` for its workers to connect, and watch it."""
        self.seen = await asyncio.to_thread(read_text, self.path)
        self.apply(parse_roster(self.seen))
        if self.joining:
            await asyncio.wait(list(self.joining.values()), timeout=CONNECT_WAIT)
        self.watcher = asyncio.get_running_loop().create_task(self.watch(), name="workers-file")

    async def stop(self) -> None:
        """Stop watching and joining; the links stay the service's, for the hub to stop."""
        self.stopping.set()  # the watcher's thread sees it within a step, and returns
        for task in [*self.joining.values(), *(task for _, task in self.leaving.values())]:
            task.cancel()
        if self.watcher is not None:
            await asyncio.wait([self.watcher], timeout=CONNECT_WAIT)

    def state_of(self, address: str) -> tuple[WorkerEntry, str] | None:
        """The worker's entry and state: active, draining, or :data:`REMOVED`."""
        if address in self.leaving:
            return self.leaving[address][0], REMOVED
        entry = self.listed.get(address)
        return None if entry is None else (entry, entry.state)

    async def watch(self) -> None:
        try:
            async for _ in watchfiles.awatch(
                self.path.parent, watch_filter=None, recursive=False, stop_event=self.stopping
            ):
                await self.reload()
        except OSError as exc:
            WorkerLink.log(f"no longer watching the workers file {self.path}: {exc}")

    async def reload(self) -> None:
        """Apply the file if it changed and is valid; if it is not, say why and keep the list."""
        try:
            text = await asyncio.to_thread(read_text, self.path)
            if text == self.seen:
                return
            self.seen = text
            entries = parse_roster(text)
        except RosterError as exc:
            WorkerLink.log(f"workers file {self.path}: {exc}; the last valid list stays in force")
            return
        self.apply(entries)

    def apply(self, entries: list[WorkerEntry]) -> None:
        """Make the hub's workers those of ``entries``: at once, but for the removed ones,
        which leave once they run no kernel."""
        wanted = {entry.address: entry for entry in entries}
        for address in self.listed.keys() - wanted.keys():
            self.remove(self.listed[address])
        for entry in entries:
            self.put(entry, self.listed.get(entry.address))
        self.listed = wanted

    def put(self, entry: WorkerEntry, before: WorkerEntry | None) -> None:
        leaving = self.leaving.pop(entry.address, None)
        if leaving is not None:
            leaving[1].cancel()
        if entry.address not in self.service.links:
            self.join(entry)
        self.service.placement.configure(entry.address, entry.weight, entry.state == "active")
        if entry != before:
            WorkerLink.log(
                f"workers file: worker {entry.name} at {entry.address} is {entry.state} "
                f"(weight {entry.weight:g})"
            )

    def join(self, entry: WorkerEntry) -> None:
        link = self.link_to(entry.address)
        self.service.add_link(link)
        self.joining[entry.address] = asyncio.get_running_loop().create_task(
            self.connect(entry, link), name=f"join-{entry.address}"
        )

    async def connect(self, entry: WorkerEntry, link: WorkerLink) -> None:
        """Connect and reconcile (a returning worker may have lost kernels meanwhile); a
        worker that is not there yet is waited for, one of another version left unused."""
        try:
            await link.start(CONNECT_WAIT)
        except hub_worker.ProtocolError:
            return  # the link has said why
        except TimeoutError:
            WorkerLink.log(f"worker {entry.name} at {entry.address} not connected yet; trying on")
            await link.connected.wait()
        finally:
            self.joining.pop(entry.address, None)
        try:
            await self.service.reconcile([link])
        except WorkerError as exc:
            WorkerLink.log(f"could not reconcile worker {entry.name}: {exc.message}")

    def remove(self, entry: WorkerEntry) -> None:
        link = self.service.links.get(entry.address)
        if link is None:
            return
        self.service.placement.configure(entry.address, entry.weight, taking=False)
        drain = asyncio.get_running_loop().create_task(
            self.drain(entry, link), name=f"drain-{entry.address}"
        )
        self.leaving[entry.address] = (entry, drain)
        WorkerLink.log(
            f"workers file: worker {entry.name} at {entry.address} removed; it takes no new "
            "kernel, and is disconnected once it runs none"
        )

    async def drain(self, entry: WorkerEntry, link: WorkerLink) -> None:
        while not await self.runs_none(link):
            await asyncio.sleep(DRAIN_CHECK)
        del self.leaving[entry.address]
        joining = self.joining.pop(entry.address, None)
        if joining is not None:
            joining.cancel()
        self.service.remove_link(link)
        await link.stop()
        WorkerLink.log(f"disconnected worker {entry.name} at {entry.address}: it runs no kernel")

    async def runs_none(self, link: WorkerLink) -> bool:
        try:
            return await self.service.runs_none(link)
        except WorkerError:  # the connection was lost meanwhile: ask again at the next check
            return False
