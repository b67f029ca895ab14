"""Repository for permalinks: the only code that reads or writes the permalinks table.

Ids are random base62 strings (never sequential, so links cannot be enumerated), checked
against the table before use. The same content always gets the same id: a unique index on
the content hash settles the race when two hubs store the same code at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cellhub.db.models import Permalink

ALPHABET = string.digits + string.ascii_letters
#: Length of new ids; 62**8 ≈ 2·10**14 leaves collisions rare for any realistic table.
ID_LENGTH = 8
ID_ATTEMPTS = 16


def new_id(length: int = ID_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def is_valid_id(candidate: str) -> bool:
    return 6 <= len(candidate) <= 16 and all(c in ALPHABET for c in candidate)


def content_hash(code: str, kernel_name: str, interact_state: Any) -> str:
    canonical = orjson.dumps(
        {"code": code, "kernel_name": kernel_name, "interact_state": interact_state},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class SharedCode:
    """A permalink as callers see it."""

    id: str
    code: str
    kernel_name: str
    interact_state: Any
    created: dt.datetime
    views: int
    last_access: dt.datetime | None


def _shared(row: Permalink) -> SharedCode:
    return SharedCode(
        row.id,
        row.code,
        row.kernel_name,
        row.interact_state,
        row.created,
        row.views,
        row.last_access,
    )


class PermalinkRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def store(
        self, code: str, kernel_name: str, interact_state: Any = None, owner: str = ""
    ) -> str:
        """Return the id of this content, creating the permalink (owned by ``owner``, who
        shared it first) if it is new."""
        digest = content_hash(code, kernel_name, interact_state)
        for _ in range(ID_ATTEMPTS):
            existing = self._id_for(digest)
            if existing is not None:
                return existing
            candidate = new_id()
            with Session(self.engine) as db:
                if db.get(Permalink, candidate) is not None:
                    continue
                db.add(
                    Permalink(
                        id=candidate,
                        content_hash=digest,
                        code=code,
                        kernel_name=kernel_name,
                        interact_state=interact_state,
                        created=dt.datetime.now(dt.UTC),
                        views=0,
                        owner=owner,
                    )
                )
                try:
                    db.commit()
                except IntegrityError:
                    db.rollback()
                    continue
                return candidate
        raise RuntimeError("could not find a free permalink id")

    def _id_for(self, digest: str) -> str | None:
        with Session(self.engine) as db:
            return db.scalar(select(Permalink.id).where(Permalink.content_hash == digest))

    def get(self, permalink_id: str) -> SharedCode | None:
        with Session(self.engine) as db:
            row = db.get(Permalink, permalink_id)
            return _shared(row) if row is not None else None

    def view(self, permalink_id: str) -> SharedCode | None:
        """Look the permalink up as someone opens it: count the view and stamp the access."""
        if not is_valid_id(permalink_id):
            return None
        with Session(self.engine) as db, db.begin():
            db.execute(
                update(Permalink)
                .where(Permalink.id == permalink_id)
                .values(views=Permalink.views + 1, last_access=dt.datetime.now(dt.UTC))
            )
            row = db.get(Permalink, permalink_id)
            return _shared(row) if row is not None else None
