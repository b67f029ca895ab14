"""Repository for worksheets: the only code that reads or writes worksheets and their versions.

A user's contents are entries at paths ("Untitled.ipynb", "course/week 1.ipynb"), unique per
owner: worksheets ("notebook"), each a list of versions of its .ipynb JSON, and folders
("directory"). Callers hand over paths already checked (hub/contents_paths.py) and notebooks
already validated; this module keeps the store's promises:

- a save is one transaction that adds a version and moves the worksheet's current version,
  so a process killed mid-save leaves the previous version whole, never half a notebook;
- a save that names the version it was based on fails with :class:`Conflict` when that is
  no longer the current one (another tab, another device saved meanwhile): nobody's save
  silently overwrites another's. The check is the UPDATE's own WHERE clause, so two hubs
  saving at once cannot both pass it;
- at most ``keep`` versions are kept per worksheet besides checkpoints: older ones are
  thinned so that history stays dense where it is recent and sparse where it is old.

Blocking calls: the hub runs them in a thread so its event loop never waits on them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, Update, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cellhub.db.models import Worksheet, WorksheetVersion

NOTEBOOK = "notebook"
DIRECTORY = "directory"


class NotFound(Exception):
    """No such entry (or no such parent folder, or version)."""


class Exists(Exception):
    """An entry is already at the target path."""


class WrongType(Exception):
    """The entry at the path is of another type (a folder where a worksheet is saved)."""


class Conflict(Exception):
    """The save was based on a version that is no longer the current one."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the worksheet's current version is {current}")
        self.current = current


@dataclass(frozen=True)
class Entry:
    """A worksheet or folder as callers see it."""

    id: str
    path: str
    type: str
    version: int
    size: int
    created: dt.datetime
    updated: dt.datetime

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Version:
    """One saved version of a worksheet."""

    number: int
    created: dt.datetime
    size: int
    sha256: str
    checkpoint: bool


ENTRY_COLUMNS = (
    Worksheet.id,
    Worksheet.path,
    Worksheet.type,
    Worksheet.version,
    Worksheet.size,
    Worksheet.created,
    Worksheet.updated,
)
VERSION_COLUMNS = (
    WorksheetVersion.number,
    WorksheetVersion.created,
    WorksheetVersion.size,
    WorksheetVersion.sha256,
    WorksheetVersion.checkpoint,
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(stamp: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every stamp stored here is UTC."""
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def entry_of(row: Sequence[object]) -> Entry:
    ident, path, kind, version, size, created, updated = row
    assert isinstance(created, dt.datetime) and isinstance(updated, dt.datetime)
    return Entry(
        str(ident),
        str(path),
        str(kind),
        int(str(version)),
        int(str(size)),
        aware(created),
        aware(updated),
    )


def version_of(row: Sequence[object]) -> Version:
    number, created, size, sha256, checkpoint = row
    assert isinstance(created, dt.datetime)
    return Version(int(str(number)), aware(created), int(str(size)), str(sha256), bool(checkpoint))


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or inside the folder ``prefix``."""
    return path == prefix or path.startswith(prefix + "/")


def thinned(created: Sequence[float], excess: int, at: float) -> list[int]:
    """Which of versions created at ``created`` (seconds, oldest first) to drop so that
    ``excess`` fewer remain. Never the oldest nor the newest; each time the one whose
    neighbours are closest together relative to its age, so that what is kept ends up spread
    evenly on a log scale of age: dense where recent, sparse where old."""
    alive = list(range(len(created)))
    dropped: list[int] = []
    for _ in range(min(excess, len(created) - 2)):

        def score(position: int) -> float:
            before, index, after = (created[alive[position + d]] for d in (-1, 0, 1))
            return (after - before) / (at - index + 1.0)

        victim = min(range(1, len(alive) - 1), key=score)
        dropped.append(alive.pop(victim))
    return dropped


class WorksheetRepository:
    """The store of every owner's worksheets; ``keep``: versions kept per worksheet."""

    def __init__(self, engine: Engine, keep: int = 50) -> None:
        self.engine = engine
        self.keep = keep

    # -- reading ----------------------------------------------------------------------
    def get(self, owner: str, path: str) -> Entry | None:
        with Session(self.engine) as db:
            row = db.execute(select(*ENTRY_COLUMNS).where(*self.at(owner, path))).first()
        return entry_of(row) if row is not None else None

    def children(self, owner: str, folder: str) -> list[Entry]:
        """The entries directly inside ``folder`` ("": the top), by name."""
        found = [entry for entry in self.inside(owner, folder) if parent_of(entry.path) == folder]
        return sorted(found, key=lambda entry: entry.path)

    def inside(self, owner: str, folder: str) -> list[Entry]:
        with Session(self.engine) as db:
            rows = db.execute(select(*ENTRY_COLUMNS).where(Worksheet.owner == owner)).all()
        entries = [entry_of(row) for row in rows]
        return [e for e in entries if not folder or (e.path != folder and under(e.path, folder))]

    def content(self, owner: str, path: str, number: int | None = None) -> tuple[Entry, bytes]:
        """A worksheet and the JSON of its current version (or of version ``number``)."""
        entry = self.get(owner, path)
        if entry is None or entry.type != NOTEBOOK:
            raise NotFound(path)
        wanted = entry.version if number is None else number
        with Session(self.engine) as db:
            packed = db.scalar(
                select(WorksheetVersion.content).where(
                    WorksheetVersion.worksheet_id == entry.id, WorksheetVersion.number == wanted
                )
            )
        if packed is None:
            raise NotFound(f"{path} version {wanted}")
        return entry, zlib.decompress(packed)

    def versions(self, owner: str, path: str) -> list[Version]:
        """The worksheet's versions kept, newest first."""
        entry = self.get(owner, path)
        if entry is None or entry.type != NOTEBOOK:
            raise NotFound(path)
        with Session(self.engine) as db:
            rows = db.execute(
                select(*VERSION_COLUMNS)
                .where(WorksheetVersion.worksheet_id == entry.id)
                .order_by(WorksheetVersion.number.desc())
            ).all()
        return [version_of(row) for row in rows]

    @staticmethod
    def at(owner: str, path: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return (Worksheet.owner == owner, Worksheet.path == path)

    # -- writing ----------------------------------------------------------------------
    def save(self, owner: str, path: str, content: bytes, based_on: int | None = None) -> Entry:
        """Make ``content`` the worksheet's newest version, creating the worksheet when there
        is none; ``based_on``: the version the saver had (None: save whatever is current)."""
        stamp = now()
        with Session(self.engine) as db, db.begin():
            # The UPDATE comes first: it takes the write lock before anything is read.
            conditions = [*self.at(owner, path), Worksheet.type == NOTEBOOK]
            if based_on is not None:
                conditions.append(Worksheet.version == based_on)
            moved = db.execute(
                update(Worksheet)
                .where(*conditions)
                .values(version=Worksheet.version + 1, size=len(content), updated=stamp)
                .returning(*ENTRY_COLUMNS)
            ).first()
            if moved is None:
                return self.create(db, owner, path, content, stamp, based_on)
            entry = entry_of(moved)
            self.add_version(db, entry.id, entry.version, content, stamp)
            self.compact(db, entry.id, stamp)
            return entry

    def create(
        self,
        db: Session,
        owner: str,
        path: str,
        content: bytes,
        stamp: dt.datetime,
        based_on: int | None,
    ) -> Entry:
        """The worksheet at ``path`` when the save's UPDATE found none to move: a new one, or
        the reason why not (another type there, a newer version there, no folder for it; or,
        for a save based on a version, no worksheet: it was deleted or moved meanwhile)."""
        existing = db.execute(select(*ENTRY_COLUMNS).where(*self.at(owner, path))).first()
        if existing is not None:
            found = entry_of(existing)
            if found.type != NOTEBOOK:
                raise WrongType(f"{path} is a {found.type}")
            raise Conflict(found.version)
        if based_on is not None:
            raise NotFound(f"{path} (deleted or moved since version {based_on})")
        self.need_folder(db, owner, parent_of(path))
        entry = Entry(str(uuid.uuid4()), path, NOTEBOOK, 1, len(content), stamp, stamp)
        self.insert(db, owner, entry)
        self.add_version(db, entry.id, 1, content, stamp)
        return entry

    def insert(self, db: Session, owner: str, entry: Entry) -> None:
        values = {column.key: getattr(entry, column.key) for column in ENTRY_COLUMNS}
        try:  # the transaction it is part of ends with the exception, rolled back
            db.execute(insert(Worksheet).values(owner=owner, **values))
        except IntegrityError:
            raise Exists(entry.path) from None

    def need_folder(self, db: Session, owner: str, folder: str) -> None:
        if not folder:
            return
        kind = db.scalar(select(Worksheet.type).where(*self.at(owner, folder)))
        if kind != DIRECTORY:
            raise NotFound(f"No such directory: {folder}")

    @staticmethod
    def add_version(
        db: Session, worksheet_id: str, number: int, content: bytes, stamp: dt.datetime
    ) -> None:
        db.execute(
            insert(WorksheetVersion).values(
                worksheet_id=worksheet_id,
                number=number,
                content=zlib.compress(content, 6),
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                created=stamp,
                checkpoint=False,
            )
        )

    def compact(self, db: Session, worksheet_id: str, stamp: dt.datetime) -> None:
        """Thin the versions that are no checkpoint down to ``keep`` (see :func:`thinned`)."""
        rows = db.execute(
            select(WorksheetVersion.number, WorksheetVersion.created)
            .where(WorksheetVersion.worksheet_id == worksheet_id, ~WorksheetVersion.checkpoint)
            .order_by(WorksheetVersion.number)
        ).all()
        excess = len(rows) - self.keep
        if excess <= 0:
            return
        times = [aware(created).timestamp() for _, created in rows]
        victims = [rows[index][0] for index in thinned(times, excess, stamp.timestamp())]
        db.execute(
            delete(WorksheetVersion).where(
                WorksheetVersion.worksheet_id == worksheet_id,
                WorksheetVersion.number.in_(victims),
            )
        )

    def make_folder(self, owner: str, path: str) -> Entry:
        stamp = now()
        with Session(self.engine) as db, db.begin():
            self.need_folder(db, owner, parent_of(path))
            entry = Entry(str(uuid.uuid4()), path, DIRECTORY, 0, 0, stamp, stamp)
            self.insert(db, owner, entry)
            return entry

    def rename(self, owner: str, old: str, new: str) -> Entry:
        """Move an entry (a folder with all it holds) to ``new``."""
        with Session(self.engine) as db, db.begin():
            if db.scalar(select(Worksheet.id).where(*self.at(owner, new))) is not None:
                raise Exists(new)
            self.need_folder(db, owner, parent_of(new))
            rows = db.execute(
                select(Worksheet.id, Worksheet.path).where(Worksheet.owner == owner)
            ).all()
            moving = [(ident, path) for ident, path in rows if under(path, old)]
            if not moving:
                raise NotFound(old)
            if under(new, old):
                raise Exists(f"{new} is inside {old}")
            for ident, path in moving:
                db.execute(
                    update(Worksheet)
                    .where(Worksheet.id == ident)
                    .values(path=new + path[len(old) :])
                )
        entry = self.get(owner, new)
        assert entry is not None
        return entry

    def delete(self, owner: str, path: str) -> None:
        """Delete an entry, a folder with all it holds, and every version of it."""
        with Session(self.engine) as db, db.begin():
            rows = db.execute(
                select(Worksheet.id, Worksheet.path).where(Worksheet.owner == owner)
            ).all()
            doomed = [ident for ident, each in rows if under(each, path)]
            if not doomed:
                raise NotFound(path)
            db.execute(delete(WorksheetVersion).where(WorksheetVersion.worksheet_id.in_(doomed)))
            db.execute(delete(Worksheet).where(Worksheet.id.in_(doomed)))

    def copy(self, owner: str, source: str, target: str) -> Entry:
        """Copy a worksheet (its current version) or a folder with all it holds to ``target``."""
        top = self.get(owner, source)
        if top is None:
            raise NotFound(source)
        copied = [top, *self.inside(owner, source)] if top.type == DIRECTORY else [top]
        contents = {e.path: self.content(owner, e.path)[1] for e in copied if e.type == NOTEBOOK}
        stamp = now()
        with Session(self.engine) as db, db.begin():
            self.need_folder(db, owner, parent_of(target))
            for each in copied:
                path = target + each.path[len(source) :]
                content = contents.get(each.path)
                version = 0 if content is None else 1
                fresh = Entry(str(uuid.uuid4()), path, each.type, version, each.size, stamp, stamp)
                self.insert(db, owner, fresh)
                if content is not None:
                    self.add_version(db, fresh.id, 1, content, stamp)
        entry = self.get(owner, target)
        assert entry is not None
        return entry

    # -- checkpoints: versions kept on purpose ------------------------------------------
    def mark_checkpoint(self, owner: str, path: str) -> Version:
        """Keep the current version as a checkpoint (Jupyter's "save and checkpoint")."""
        entry = self.get(owner, path)
        if entry is None or entry.type != NOTEBOOK:
            raise NotFound(path)
        with Session(self.engine) as db, db.begin():
            db.execute(self.version_update(entry.id, entry.version).values(checkpoint=True))
        return next(v for v in self.versions(owner, path) if v.number == entry.version)

    def unmark_checkpoint(self, owner: str, path: str, number: int) -> None:
        entry = self.get(owner, path)
        if entry is None or entry.type != NOTEBOOK:
            raise NotFound(path)
        with Session(self.engine) as db, db.begin():
            done = db.execute(
                self.version_update(entry.id, number)
                .where(WorksheetVersion.checkpoint)
                .values(checkpoint=False)
            )
            if not done.rowcount:  # type: ignore[attr-defined]  # a CursorResult has one
                raise NotFound(f"checkpoint {number} of {path}")
            self.compact(db, entry.id, now())

    @staticmethod
    def version_update(worksheet_id: str, number: int) -> Update:
        return update(WorksheetVersion).where(
            WorksheetVersion.worksheet_id == worksheet_id, WorksheetVersion.number == number
        )
