"""uvicorn's server, made to return on SIGTERM and Ctrl+C instead of ending the process.

After a graceful shutdown uvicorn raises the signal it caught once more, with the
default handler back in place, so the process dies right there. ``cellhub serve``
still has its worker to stop at that point: it must wait for the worker (which puts
the host's ksmd settings back, and stops the template and every session) rather than
leave it to notice its parent's death.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import uvicorn


class HubServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


SIGNALS = (signal.SIGINT, signal.SIGTERM)
