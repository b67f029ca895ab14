"""Diagnostics that a client can trigger at will, written to the service log at a bounded rate.

Anything a client can cause (a malformed request, a message that makes a handler raise)
must not turn into one log entry per attempt: a thousand bad requests would otherwise put
a thousand tracebacks in the host's log. ``RateLimitedLog`` writes the first occurrence of
each *kind* in full, counts the repeats, and writes one line per kind and ``interval`` with
how many more there were. Contract:

- a kind is a short name chosen by the code (an exception's type and where it was
  raised), never text the client chose, so that a client cannot mint new kinds;
- at most ``max_new_kinds`` first occurrences are written per interval; the rest are
  counted under ``OTHER``; at most ``max_kinds`` kinds are remembered;
- each entry is cut to ``max_entry`` characters;
- counts are written at the end of their interval (a timer on the running event loop,
  when there is one), when a later report arrives after the interval, or on ``flush()``.

Used by the hub (uvicorn's error log, see ``cellhub.hub.uvicorn_server``) and the worker
(failed requests, see ``cellhub.worker.server``), and meant for the sessions' diagnostics
the worker passes on.
"""

from __future__ import annotations

import asyncio
import time
import types
from collections import OrderedDict
from collections.abc import Callable

OTHER = "other"


class RateLimitedLog:
    """Write each kind of diagnostic once, then a count per ``interval`` seconds."""

    def __init__(
        self,
        write: Callable[[str], None],
        interval: float = 60.0,
        max_new_kinds: int = 20,
        max_kinds: int = 1024,
        max_entry: int = 8192,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.interval = interval
        self.max_new_kinds = max_new_kinds
        self.max_kinds = max_kinds
        self.max_entry = max_entry
        self.clock = clock
        #: kind → occurrences not yet written.
        self.pending: OrderedDict[str, int] = OrderedDict()
        self.total: dict[str, int] = {}
        self.window_start = clock()
        self.new_in_window = 0
        self.flush_timer: asyncio.TimerHandle | None = None

    def report(self, kind: str, entry: str) -> bool:
        """Count one occurrence of ``kind``; return whether ``entry`` was written."""
        if self.clock() - self.window_start >= self.interval:
            self.flush()
        if kind not in self.pending and self.new_in_window >= self.max_new_kinds:
            kind = OTHER
        self.total[kind] = self.total.get(kind, 0) + 1
        written = kind not in self.pending and kind != OTHER
        self.pending[kind] = 0 if written else self.pending.get(kind, 0) + 1
        self.pending.move_to_end(kind)
        if len(self.pending) > self.max_kinds:
            forgotten, _ = self.pending.popitem(last=False)
            self.total.pop(forgotten, None)
        if written:
            self.new_in_window += 1
            self.write(self.cut(entry))
        else:
            self.flush_later()
        return written

    def flush_later(self) -> None:
        if self.flush_timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay = max(0.0, self.window_start + self.interval - self.clock())
        self.flush_timer = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        """Write the counts of repeats not yet written, and start a new interval."""
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        for kind, count in self.pending.items():
            if count:
                self.write(
                    f"{kind}: {count} more in the last {self.interval:g} s "
                    f"({self.total[kind]} in all; repeats are counted, not logged)"
                )
                self.pending[kind] = 0
        self.window_start = self.clock()
        self.new_in_window = 0

    def cut(self, entry: str) -> str:
        if len(entry) <= self.max_entry:
            return entry
        return f"{entry[: self.max_entry]}… ({len(entry) - self.max_entry} characters cut)"


def exception_kind(exc: BaseException) -> str:
    """A kind for ``exc``: its type and the line that raised it (not its message, which may
    hold what a client sent)."""
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
    return f"{type(exc).__name__} at {where}"
