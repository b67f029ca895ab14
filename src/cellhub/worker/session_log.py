"""What sessions tell the service's log: marked with their kernel, escaped, cut, rate-limited.

A session holds no descriptor of the log (:mod:`cellhub.protocol.diagnostics`); it
sends its diagnostics to the worker, which writes them here. Their text is the
session's own, so hostile: every line written carries the worker's mark of where it
came from (a session cannot forge a line of the service, "serving at …?token=…"),
control characters are escaped (no terminal escapes, no carriage returns), and
:class:`~cellhub.ratelimited_log.RateLimitedLog` bounds what a flood costs: the first
diagnostic of each kernel in full (at most 8 KiB), then a count per minute.
"""

from __future__ import annotations

from collections.abc import Callable

from cellhub.log_records import service_logger
from cellhub.ratelimited_log import RateLimitedLog

log = service_logger(__name__)

#: Control characters other than tab, shown escaped (line breaks split lines instead).
_ESCAPED = {code: f"\\x{code:02x}" for code in [*range(9), *range(11, 32), 127]}


class SessionLog:
    """The worker's one channel from sessions to its log."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.limited = RateLimitedLog(write or self.to_log)
        #: The kernel whose report is being written: its record's ``kernel_id``.
        self.reporting: str | None = None

    def report(self, kind: str, mark: str, text: str, kernel_id: str | None = None) -> None:
        """Log ``text`` with ``mark`` on each of its lines, counted under ``kind``, as a
        record of ``kernel_id`` (log_records.py) when it is one kernel's.

        ``kind`` and ``mark`` are the worker's words ("kernel <id>"), never the session's.
        """
        lines = text.translate(_ESCAPED).splitlines() or [""]
        self.reporting = kernel_id
        try:
            self.limited.report(kind, "\n".join(f"{mark}: {line}" for line in lines))
        finally:
            self.reporting = None

    def to_log(self, entry: str) -> None:
        log.warning(entry, extra={"kernel_id": self.reporting})

    def flush(self) -> None:
        """Write the counts of what was not written; the worker calls it now and then."""
        self.limited.flush()
