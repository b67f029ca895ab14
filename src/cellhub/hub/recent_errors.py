"""The last warnings and errors this hub logged, kept in memory for the admin view.

A hub records every log record of level WARNING or above — a failed login, an exception in
a request, a worker's failure the hub logs — in a ring of the last :data:`KEPT`, which
``GET /api/admin/errors`` (hub/admin_api.py) lists newest first. Each hub keeps its own:
the admin view shows the hub it is served by, and the deployment's log store (every
process's records) has the rest. Nothing here changes what is printed: the ring is one more
handler on the root logger (with a stderr handler beside it when the root had none, so that
other libraries' warnings still reach stderr as Python's last resort printed them; cellhub's
own records have theirs, log_records.py, and are not printed twice), and a filter put first on
the loggers whose records the hub rate-limits and drops after printing them itself
(hub/uvicorn_server.py).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from typing import Any

from cellhub.log_records import ROOT

#: Records kept per hub.
KEPT = 200
#: Loggers whose records a filter of their own stops before any handler sees them.
FILTERED = ("uvicorn.error", "asyncio")
#: The mark of a record in the ring already.
RECORDED = "cellhub_recent_error"


class RecentErrors(logging.Handler):
    """A ring of the last :data:`KEPT` records of level WARNING or above."""

    def __init__(self, kept: int = KEPT) -> None:
        super().__init__(logging.WARNING)
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=kept)
        self.tap = Tap(self)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, RECORDED, False):  # the tap had it, and it propagated here too
            return
        setattr(record, RECORDED, True)
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        self.records.append(
            {
                "time": when.isoformat().replace("+00:00", "Z"),
                "level": record.levelname,
                "logger": record.name,
                "message": message,
            }
        )

    def newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self.records))

    def install(self) -> None:
        root = logging.getLogger()
        if not root.handlers:
            others = logging.StreamHandler()
            others.setLevel(logging.WARNING)
            others.addFilter(lambda record: not record.name.startswith(ROOT))
            root.addHandler(others)
        root.addHandler(self)
        for name in FILTERED:
            logging.getLogger(name).filters.insert(0, self.tap)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        for name in FILTERED:
            logging.getLogger(name).removeFilter(self.tap)


class Tap(logging.Filter):
    """A logger's filter that hands each warning or worse to ``ring`` and lets it pass."""

    def __init__(self, ring: RecentErrors) -> None:
        super().__init__()
        self.ring = ring

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.ring.level:
            self.ring.emit(record)
        return True
