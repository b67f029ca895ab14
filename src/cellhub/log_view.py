"""What ``cellhub logs`` prints: the log database's records (db/log_store.py) as readable
lines, or as JSON, now and, with ``--follow``, as they arrive.

A readable line is ``TIME SERVICE@HOST LEVEL [kernel ID] [client ADDRESS]: message``, the
time the service made the record in UTC; a message's further lines (a traceback) follow
indented. ``--follow`` asks the database every :data:`FOLLOW_INTERVAL` seconds for rows
stored since the last one shown, so that records held back by an outage of the log store
appear when they arrive, each once, with their own (earlier) time.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

import orjson
from sqlalchemy import Engine

from cellhub.db.log_store import (
    RecordFilter,
    StoredRecord,
    latest_id,
    newest_records,
    records_after,
)

#: Seconds between two looks for new records with ``--follow``.
FOLLOW_INTERVAL = 0.5
RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``10m``, ``2h``, ``1d``, ``30s`` ago, or an ISO 8601 time (UTC unless it says)."""
    relative = RELATIVE.fullmatch(text.strip())
    if relative:
        ago = float(relative.group(1)) * UNITS[relative.group(2)]
        return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=ago)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a time (2026-05-01T12:00) nor 10m, 2h, 1d") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def readable(record: StoredRecord) -> str:
    made = record.time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    about = "".join(
        f" {name} {value}"
        for name, value in (("kernel", record.kernel_id), ("client", record.client))
        if value
    )
    first, *rest = record.message.splitlines() or [""]
    head = f"{made} {record.service}@{record.host} {record.level}{about}: {first}"
    return "\n".join([head, *(f"    {line}" for line in rest)])


def as_json(record: StoredRecord) -> str:
    return orjson.dumps(record.as_json()).decode()


def show(
    engine: Engine,
    wanted: RecordFilter,
    count: int,
    follow: bool = False,
    line: Callable[[StoredRecord], str] = readable,
    out: TextIO = sys.stdout,
) -> None:
    """Print the ``count`` newest records ``wanted``; with ``follow``, then every new one
    until interrupted."""
    last = latest_id(engine)
    print_records(newest_records(engine, wanted, count, last), line, out)
    while follow:
        time.sleep(FOLLOW_INTERVAL)
        arrived = records_after(engine, wanted, last)
        if arrived:
            last = arrived[-1].id
            print_records(arrived, line, out)


def print_records(
    records: list[StoredRecord], line: Callable[[StoredRecord], str], out: TextIO
) -> None:
    for record in records:
        out.write(line(record) + "\n")
    out.flush()
