"""The log database's one table, ``log_records``, and how ``cellhub logs`` reads it.

The services' records (log_records.py) reach this table through rsyslog, whose ompgsql
action inserts them (deploy/templates/rsyslog.conf.j2 names its columns): ``time`` is
when the service made the record, ``received`` when the database stored it; they differ
by however long the log store was away.

The table is not part of the main schema and its Alembic migrations: the log database
may be a PostgreSQL server of its own (``log_database_url``), which only the log service
writes to and which holds nothing else, and the main database may be SQLite, which rsyslog
cannot write to. The log service creates the table (``CREATE TABLE IF NOT EXISTS``, with
:func:`create_log_table`) each time it starts; a change to it will be a new column added
the same way, never a rewrite of the records already kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    Select,
    Table,
    Text,
    func,
    select,
)

METADATA = MetaData()
LOG_RECORDS = Table(
    "log_records",
    METADATA,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("received", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("service", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("logger", Text, nullable=False, server_default=""),
    Column("kernel_id", Text),
    Column("client", Text),
    Column("message", Text, nullable=False),
    Index("log_records_time", "time"),
    Index("log_records_service_time", "service", "time"),
    Index("log_records_kernel_id", "kernel_id"),
)


def create_log_table(engine: Engine) -> None:
    METADATA.create_all(engine, checkfirst=True)


@dataclass(frozen=True)
class StoredRecord:
    """One row of ``log_records``."""

    id: int
    time: dt.datetime
    received: dt.datetime
    service: str
    host: str
    level: str
    logger: str
    kernel_id: str | None
    client: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        """The record as the service shipped it (log_records.py), and its row's id and
        arrival time."""
        fields = {
            "id": self.id,
            "time": self.time.isoformat(),
            "received": self.received.isoformat(),
            "service": self.service,
            "host": self.host,
            "level": self.level,
            "logger": self.logger,
            "message": self.message,
        }
        fields.update(
            {k: v for k, v in (("kernel_id", self.kernel_id), ("client", self.client)) if v}
        )
        return fields


@dataclass(frozen=True)
class RecordFilter:
    """Which records ``cellhub logs`` shows: of one service, one kernel, since a time."""

    service: str = ""
    kernel_id: str = ""
    since: dt.datetime | None = None

    def query(self) -> Select[Any]:
        query = select(LOG_RECORDS)
        if self.service:
            query = query.where(LOG_RECORDS.c.service == self.service)
        if self.kernel_id:
            query = query.where(LOG_RECORDS.c.kernel_id == self.kernel_id)
        if self.since is not None:
            query = query.where(LOG_RECORDS.c.time >= self.since)
        return query


def latest_id(engine: Engine) -> int:
    """The id of the row stored last (0: none yet)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.max(LOG_RECORDS.c.id))).scalar() or 0)


def newest_records(
    engine: Engine, wanted: RecordFilter, count: int, up_to_id: int | None = None
) -> list[StoredRecord]:
    """The ``count`` newest records ``wanted`` (by the time they were made) among the rows
    up to ``up_to_id``, oldest first."""
    query = wanted.query()
    if up_to_id is not None:
        query = query.where(LOG_RECORDS.c.id <= up_to_id)
    newest = query.order_by(LOG_RECORDS.c.time.desc(), LOG_RECORDS.c.id.desc())
    return list(reversed(_fetch(engine, newest.limit(count))))


def records_after(engine: Engine, wanted: RecordFilter, after_id: int) -> list[StoredRecord]:
    """Records ``wanted`` stored after the row ``after_id``, in the order they arrived:
    ``--follow`` sees each once, those that waited out an outage of the store too."""
    query = wanted.query().where(LOG_RECORDS.c.id > after_id).order_by(LOG_RECORDS.c.id)
    return _fetch(engine, query.limit(10_000))


def _fetch(engine: Engine, query: Select[Any]) -> list[StoredRecord]:
    with engine.connect() as connection:
        return [StoredRecord(**row._mapping) for row in connection.execute(query)]
