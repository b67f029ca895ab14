"""Repository for users' files as chains of git bundles (models.FileBundle), and for the
chunks of uploads in pieces: the only code that reads or writes those tables.

Promises:

- :meth:`FileBundleRepository.append` adds a link in one transaction, and only if the chain
  still ends at the link's base: a save made from an older head raises :class:`Moved`
  instead of forking the chain (the primary key on ``(owner, seq)`` makes two hubs that
  append at once fail one of them, whatever their isolation level);
- :meth:`FileBundleRepository.compact` replaces the whole chain with one full bundle in one
  transaction, and only if no link was added since the caller read it;
- a process killed in the middle of either leaves the previous chain whole: the database
  rolls the transaction back.

Blocking calls: the hub runs them in a thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cellhub.db.models import FileBundle, FileUploadChunk
from cellhub.db.worksheets import aware, now


class Moved(Exception):
    """The chain no longer ends where the caller thought."""


@dataclass(frozen=True)
class Link:
    """One bundle of a chain."""

    seq: int
    base: str
    head: str
    content: bytes
    files_size: int
    created: dt.datetime


@dataclass(frozen=True)
class Tip:
    """Where a chain ends, without its bundles."""

    seq: int
    head: str
    files_size: int
    links: int
    updated: dt.datetime


def link_of(row: Sequence[object]) -> Link:
    seq, base, head, content, files_size, created = row
    assert isinstance(content, bytes) and isinstance(created, dt.datetime)
    return Link(int(str(seq)), str(base), str(head), content, int(str(files_size)), aware(created))


#: The two queries of a chain's tip, built once: a tip is read on every kernel start, and
#: building them per call cost more CPU than running them.
LAST_LINK = (
    select(FileBundle.seq, FileBundle.head, FileBundle.files_size, FileBundle.created)
    .where(FileBundle.owner == bindparam("owner"))
    .order_by(FileBundle.seq.desc())
    .limit(1)
)
LINK_COUNT = select(func.count()).where(FileBundle.owner == bindparam("owner"))


class FileBundleRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def chain(self, owner: str, after: int = 0) -> list[Link]:
        """The links after ``after`` (all: 0), oldest first. When the chain was compacted
        since ``after``, the first is the full bundle that replaced it."""
        query = (
            select(
                FileBundle.seq,
                FileBundle.base,
                FileBundle.head,
                FileBundle.content,
                FileBundle.files_size,
                FileBundle.created,
            )
            .where(FileBundle.owner == owner, FileBundle.seq > after)
            .order_by(FileBundle.seq)
        )
        with self.engine.connect() as db:
            return [link_of(row) for row in db.execute(query)]

    def tip(self, owner: str) -> Tip | None:
        with self.engine.connect() as db:
            return self.tip_in(db, owner)

    @staticmethod
    def tip_in(db: Session | Connection, owner: str) -> Tip | None:
        last = db.execute(LAST_LINK, {"owner": owner}).first()
        if last is None:
            return None
        links = db.execute(LINK_COUNT, {"owner": owner}).scalar()
        seq, head, files_size, created = last
        return Tip(seq, head, files_size, int(links or 0), aware(created))

    def append(self, owner: str, base: str, head: str, content: bytes, files_size: int) -> int:
        """Add the bundle of the commits ``base``..``head`` (base "": a full bundle of a new
        chain); its seq. :class:`Moved` when the chain does not end at ``base``."""
        with Session(self.engine) as db, db.begin():
            tip = self.tip_in(db, owner)
            if (tip.head if tip else "") != base:
                raise Moved(tip.head if tip else "")
            seq = (tip.seq if tip else 0) + 1
            self.add(db, owner, seq, base, head, content, files_size)
        return seq

    def compact(self, owner: str, upto: int, head: str, content: bytes, files_size: int) -> bool:
        """Replace the links up to ``upto`` (the whole chain, as the caller read it) with the
        full bundle ``content``; False, changing nothing, when a link was added since."""
        with Session(self.engine) as db, db.begin():
            tip = self.tip_in(db, owner)
            if tip is None or tip.seq != upto or tip.head != head:
                return False
            db.execute(delete(FileBundle).where(FileBundle.owner == owner))
            self.add(db, owner, upto + 1, "", head, content, files_size)
        return True

    @staticmethod
    def add(
        db: Session, owner: str, seq: int, base: str, head: str, content: bytes, files_size: int
    ) -> None:
        row = {
            "owner": owner,
            "seq": seq,
            "base": base,
            "head": head,
            "content": content,
            "size": len(content),
            "files_size": files_size,
            "created": now(),
        }
        try:
            db.execute(insert(FileBundle).values(**row))
            db.flush()
        except IntegrityError:
            raise Moved(head) from None

    def stored_bytes(self, owner: str) -> int:
        """The bytes of the owner's bundles (what the database holds for them)."""
        with Session(self.engine) as db:
            total = db.scalar(select(func.sum(FileBundle.size)).where(FileBundle.owner == owner))
        return int(total or 0)

    # -- uploads in chunks --------------------------------------------------------------
    def add_chunk(self, owner: str, path: str, number: int, content: bytes) -> int:
        """Keep chunk ``number`` of the upload at ``path`` (1 starts it over); the bytes the
        upload holds so far."""
        with Session(self.engine) as db, db.begin():
            where = (FileUploadChunk.owner == owner, FileUploadChunk.path == path)
            if number == 1:
                db.execute(delete(FileUploadChunk).where(*where))
            row = {"owner": owner, "path": path, "number": number, "content": content}
            db.merge(FileUploadChunk(**row, created=now()))
            total = db.scalar(select(func.sum(func.length(FileUploadChunk.content))).where(*where))
        return int(total or 0)

    def take_chunks(self, owner: str, path: str) -> bytes:
        """The chunks of the upload at ``path`` joined in order, and forget them."""
        with Session(self.engine) as db, db.begin():
            where = (FileUploadChunk.owner == owner, FileUploadChunk.path == path)
            pieces = db.scalars(
                select(FileUploadChunk.content).where(*where).order_by(FileUploadChunk.number)
            ).all()
            db.execute(delete(FileUploadChunk).where(*where))
        return b"".join(pieces)
