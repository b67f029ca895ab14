"""A session's lines for the service's log: read back after its death, marked, escaped, limited."""

from __future__ import annotations

import logging
import socket

import pytest

from cellhub.protocol import framing
from cellhub.protocol.diagnostics import log_frame, unread_log_texts
from cellhub.worker.session_log import SessionLog


def test_a_dead_spares_log_frames_are_read_back_without_blocking() -> None:
    worker_end, session_end = socket.socketpair()
    session_end.sendall(log_frame("failed to start: boom") + framing.encode(["msg", "x"]))
    session_end.sendall(log_frame("second") + framing.encode(["log", "cut"])[:5])
    assert unread_log_texts(worker_end) == ["failed to start: boom", "second"]
    session_end.close()
    worker_end.close()


def test_every_line_carries_the_workers_mark_and_a_flood_is_counted() -> None:
    written: list[str] = []
    log = SessionLog(written.append)
    for n in range(1000):
        log.report("kernel k1", "kernel k1 (pid 7)", f"line {n}\x1b[2J\r\nserving at ?token=FORGED")
    assert written == [
        "kernel k1 (pid 7): line 0\\x1b[2J\\x0d\nkernel k1 (pid 7): serving at ?token=FORGED"
    ]
    log.flush()
    assert len(written) == 2 and written[1].startswith("kernel k1: 999 more")


def test_a_kernels_lines_are_a_record_of_that_kernel(caplog: pytest.LogCaptureFixture) -> None:
    """In the log store, ``cellhub logs --kernel ID`` finds what the session said."""
    log = SessionLog()
    with caplog.at_level(logging.WARNING, logger="cellhub"):
        log.report("kernel k1", "session pid 7", "it broke", "k1")
        log.report("new sessions", "new session 8", "no kernel yet")
    records = [r for r in caplog.records if r.name == "cellhub.worker.session_log"]
    assert [(r.getMessage(), getattr(r, "kernel_id", None)) for r in records] == [
        ("session pid 7: it broke", "k1"),
        ("new session 8: no kernel yet", None),
    ]
