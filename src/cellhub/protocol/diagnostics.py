"""The one frame a session sends besides Jupyter messages: a line for the service's log.

A session holds no file descriptor of the host, and so not the service's log, which it
could forge lines in, flood or truncate. What it has to tell the operator (a request it
could not handle, a failure to start) travels on its own socket as ``["log", text]``.
The worker writes it to its log marked with the kernel id, cut and rate-limited
(:mod:`cellhub.worker.kernels`): the text is the session's, so it is hostile input.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from cellhub.protocol import framing

LOG = "log"


def log_frame(text: str) -> bytes:
    """One encoded frame carrying ``text``."""
    return framing.encode([LOG, text])


def log_text(frame: Any) -> str | None:
    """The text of a log frame; ``None`` if ``frame`` is another frame."""
    if isinstance(frame, list) and len(frame) == 2 and frame[0] == LOG:
        return str(frame[1])
    return None


def unread_log_texts(sock: socket.socket) -> list[str]:
    """The texts of the log frames waiting on the socket of a session that has ended.

    For a spare that died before it was claimed (its failure to start is in there).
    Reads without blocking; stops at the first frame that is incomplete or malformed.
    """
    sock.setblocking(False)
    texts: list[str] = []
    with contextlib.suppress(OSError, EOFError, framing.FrameError):
        while True:
            text = log_text(framing.recv_frame(sock))
            if text is not None:
                texts.append(text)
    return texts
