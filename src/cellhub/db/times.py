"""Times in the database: always UTC and timezone-aware once read back.

Columns are ``DateTime(timezone=True)``; PostgreSQL gives aware datetimes back, SQLite naive
ones (stored as UTC). Repositories pass what they read through :func:`utc`, so callers —
the JSON answers among them — always get aware UTC times whatever the database.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(stamp: dt.datetime) -> dt.datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def utc_or_none(stamp: dt.datetime | None) -> dt.datetime | None:
    return None if stamp is None else utc(stamp)
