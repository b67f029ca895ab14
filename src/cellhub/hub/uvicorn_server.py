"""How the hub runs in uvicorn: bounded request headers, a bounded error log, and signals
that leave the process to ``cellhub serve``.

- **Headers.** httptools sets no limit on a request's headers: ten unfinished 48 MiB headers
  grew the hub by 520 MiB. ``BoundedHttpToolsProtocol`` counts what a request sends before
  its headers are complete (WebSocket upgrades too: they are HTTP requests until their
  headers end) and answers ``431 Request Header Fields Too Large`` past ``max_header_size``;
  a connection whose request line and headers are not complete ``header_timeout`` seconds
  after it opened, or after the first byte of its next request, is closed.
- **Error log.** Everything uvicorn logs (an invalid request, an exception the app did not
  answer) goes through one ``RateLimitedLog``, so a client repeating a bad request cannot
  fill the host's log.
- **Proxies.** ``X-Forwarded-For`` is believed only from ``forwarded_allow_ips``; uvicorn's
  own default (loopback) would let any local client, or anything that reaches the hub
  through a local tunnel, choose its address for the per-client limits.
- **Signals.** After a graceful shutdown uvicorn raises the signal it caught once more, with
  the default handler back in place, so the process dies right there. ``cellhub serve``
  still has its worker to stop at that point: it must wait for the worker (which puts the
  host's ksmd settings back, and stops the template and every session) rather than leave it
  to notice its parent's death.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from cellhub.config import Config
from cellhub.log_records import service_logger
from cellhub.ratelimited_log import RateLimitedLog, exception_kind

log = service_logger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Loggers whose records a client can cause: uvicorn's, and asyncio's for unretrieved errors.
LIMITED_LOGGERS = ("uvicorn.error", "asyncio")


class HubServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class HubConfig(uvicorn.Config):
    """uvicorn's configuration for the hub, derived from cellhub's ``Config``."""

    def __init__(self, app: Any, config: Config) -> None:
        self.max_header_size = config.max_header_size
        self.header_timeout = config.header_timeout
        super().__init__(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            lifespan="on",
            loop="none",
            http=BoundedHttpToolsProtocol,
            ws="websockets-sansio",
            ws_max_size=config.max_message_size,
            ws_per_message_deflate=False,
            proxy_headers=bool(config.forwarded_allow_ips),
            forwarded_allow_ips=config.forwarded_allow_ips or [],
        )

    def configure_logging(self) -> None:
        super().configure_logging()
        for name in LIMITED_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RateLimitedRecords) for f in logger.filters):
                logger.addFilter(RateLimitedRecords())


class RateLimitedRecords(logging.Filter):
    """Pass each log record through a ``RateLimitedLog`` (to stderr), keyed by its message's
    template and, for an exception, its type and the line that raised it."""

    def __init__(self) -> None:
        super().__init__()
        self.limited = RateLimitedLog(self.write)
        self.formatter = logging.Formatter("%(levelname)s: %(message)s")

    @staticmethod
    def write(text: str) -> None:
        log.warning(text)

    @staticmethod
    def kind(record: logging.LogRecord) -> str:
        kind = f"{record.name}: {record.msg}"
        if record.exc_info and record.exc_info[1] is not None:
            kind += f" {exception_kind(record.exc_info[1])}"
        return kind

    def filter(self, record: logging.LogRecord) -> bool:
        self.limited.report(self.kind(record), self.formatter.format(record))
        return False


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on request headers.

    Two counts, each held to ``max_header_size``: the bytes of every read that ended with
    the headers still incomplete (httptools keeps an unfinished header to itself, so only
    the reads show it growing), and, once the headers are complete, their parsed size
    (URL, names and values: this also catches headers that came whole in one read). The
    deadline is one timer per connection that looks at when the current request began,
    not a timer per request: starting and cancelling a timer costs uvloop about 9 µs.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        assert isinstance(config, HubConfig)
        self.max_header_size = config.max_header_size
        self.header_timeout = config.header_timeout
        self.in_headers = True
        self.message_began = False
        self.read_bytes = 0
        self.oversized = False
        self.headers_began = self.loop.time()
        self.header_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.check_headers_at(self.headers_began + self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_header_checks()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self.stop_header_checks()
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        self.message_began = False
        super().data_received(data)
        # A read in which a request began may also hold the end of the previous one: its
        # bytes are not counted (at most one read), those of every later read are.
        if self.in_headers and not self.message_began and not self.transport.is_closing():
            self.read_bytes += len(data)
            if self.read_bytes > self.max_header_size:
                self.oversized = True
                self.refuse_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_headers = self.message_began = True
        self.read_bytes = 0
        self.headers_began = self.loop.time()

    def on_headers_complete(self) -> None:
        """Past the limit, stop the parser: it turns the exception into an
        ``HttpParserError``, which uvicorn answers with ``send_400_response``."""
        self.in_headers = False
        size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
        if size > self.max_header_size:
            self.oversized = True
            raise HeadersTooLarge
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self.oversized:
            self.refuse_headers()
        else:
            super().send_400_response(msg)

    def refuse_headers(self) -> None:
        text = f"request headers are larger than the {self.max_header_size}-byte limit"
        self.transport.write(
            STATUS_LINE[431]
            + b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            + f"content-length: {len(text)}\r\n\r\n{text}".encode()
        )
        self.transport.close()

    def check_headers_at(self, when: float) -> None:
        self.header_check = self.loop.call_at(when, self.check_headers)

    def stop_header_checks(self) -> None:
        if self.header_check is not None:
            self.header_check.cancel()
            self.header_check = None

    def check_headers(self) -> None:
        """Close the connection if the current request's headers are late; else look again
        when they would be (or, between requests, one ``header_timeout`` later)."""
        deadline = self.headers_began + self.header_timeout
        if not self.in_headers:
            self.check_headers_at(self.loop.time() + self.header_timeout)
        elif self.loop.time() < deadline:
            self.check_headers_at(deadline)
        else:
            self.header_check = None
            self.transport.close()


class HeadersTooLarge(Exception):
    """Raised inside httptools' callbacks to stop parsing a request over the header limit."""
