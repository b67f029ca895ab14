"""The services' log records: structured, stamped when they are made, never in the way.

Every service logs through Python's :mod:`logging`, under the ``cellhub`` logger
(``logging.getLogger(__name__)`` in each module), and passes what a record is about as
``extra={"kernel_id": …, "client": …}``. Each record then goes

- to **stderr**, as readable lines (``cellhub-worker: kernel 5f…: started``): what
  ``cellhub serve`` shows and what systemd's journal keeps; and
- when the deployment sets ``log_shipper`` (the Unix socket of this host's rsyslog,
  deploy/log_service.py), to **rsyslog** as one JSON object: the time the record was made
  (ISO 8601, UTC, microseconds), service, host, level, logger, kernel_id and client where
  they apply, and message. rsyslog carries it to the log database (RELP, disk-assisted
  queues), which stores that time, not the time it arrived.

The shipper must never cost the service anything: records go out on a non-blocking
datagram socket, so a dead, stopped or slow rsyslog makes a send fail at once instead of
waiting. A record that cannot be sent is counted (:attr:`ShipperHandler.dropped`) and
kept on stderr; the first such failure is said once on stderr, and the next record that
gets through is followed by one that tells the log store how many did not. The socket is
close-on-exec, and a session forked from the template closes the template's first
(:func:`leave_service`): sessions never hold it (a session's words reach the log only
through its worker, see worker/session_log.py). The template ships its own records
(service ``template``) to the socket its worker names in its settings.
"""

from __future__ import annotations

import logging
import socket
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

#: The logger every service module logs under (``cellhub.hub.kernels``, …).
ROOT = "cellhub"
#: What a service is called in its records and stderr lines, until :func:`setup` names it.
SERVICES = ("hub", "worker", "template")
#: Longest message shipped, in characters: rsyslog's maxMessageSize is 64 KiB
#: (deploy/templates/rsyslog.conf.j2), and a datagram must fit in one send.
MAX_SHIPPED_MESSAGE = 32 * 1024
#: syslog facility local0: the deployment's rsyslog takes any, this keeps them apart.
FACILITY = 16
SEVERITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


class ServiceIdentity:
    """Which service and host this process's records come from (set by :func:`setup`)."""

    service = ""
    host = socket.gethostname()

    @classmethod
    def service_of(cls, record: logging.LogRecord) -> str:
        """The service :func:`setup` named, else the package the logger is in
        (``cellhub.worker.server`` → worker), so that tests running a part in-process
        still get lines marked as the service's."""
        if cls.service:
            return cls.service
        part = record.name.split(".")[1] if record.name.count(".") else ""
        return part if part in SERVICES else ROOT


def program(service: str) -> str:
    """The name a service's lines and syslog messages carry: cellhub-hub, cellhub-worker."""
    return ROOT if service == ROOT else f"{ROOT}-{service}"


def record_time(record: logging.LogRecord) -> str:
    """When the record was made: ISO 8601 in UTC, to the microsecond."""
    made = datetime.fromtimestamp(record.created, UTC)
    return made.isoformat(timespec="microseconds").replace("+00:00", "Z")


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record as the log store keeps it (one JSON object; see docs/operations.md)."""
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    # A lone surrogate (undecodable bytes a session printed) would make the record no JSON.
    message = message.encode("utf-8", "backslashreplace").decode()
    if len(message) > MAX_SHIPPED_MESSAGE:
        cut = len(message) - MAX_SHIPPED_MESSAGE
        message = f"{message[:MAX_SHIPPED_MESSAGE]}… ({cut} characters cut)"
    fields: dict[str, Any] = {
        "time": record_time(record),
        "service": ServiceIdentity.service_of(record),
        "host": ServiceIdentity.host,
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": message,
    }
    for name in ("kernel_id", "client"):
        value = getattr(record, name, None)
        if value:
            fields[name] = str(value)
    return fields


class JsonRecords(logging.Formatter):
    """One record, one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(record_fields(record)).decode()


class ReadableRecords(logging.Formatter):
    """``cellhub-SERVICE: [kernel ID: ]message``, every line of it marked (a traceback's
    too): a line the service writes cannot be mistaken for another's."""

    def format(self, record: logging.LogRecord) -> str:
        mark = f"{program(ServiceIdentity.service_of(record))}: "
        kernel = getattr(record, "kernel_id", None)
        if kernel:
            mark += f"kernel {kernel}: "
        text = super().format(record)
        return "\n".join(mark + line for line in text.splitlines() or [""])


class StderrHandler(logging.Handler):
    """Readable lines on whatever ``sys.stderr`` is at the time (pytest's capture too)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(ReadableRecords())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_stderr(self.format(record))
        except Exception:  # noqa: BLE001 (as logging.Handler: handleError reports it)
            self.handleError(record)


def write_stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stderr: nothing left to tell
        pass


class ShipperHandler(logging.Handler):
    """Records as syslog datagrams with a JSON body (``@cee:`` + the object, which
    rsyslog's mmjsonparse reads) to the Unix socket ``address``; never blocks."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self.socket = shipper_socket()
        self.setFormatter(JsonRecords())
        #: Records not shipped since the process started, and since the store was told.
        self.dropped = 0
        self.untold = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            body = self.format(record)
        except Exception:  # noqa: BLE001 (as logging.Handler: handleError reports it)
            self.handleError(record)
            return
        if self.send(record.levelname, body) and self.untold:
            untold, self.untold = self.untold, 0
            note = logging.LogRecord(
                record.name, logging.WARNING, __file__, 0, UNSHIPPED, (untold,), None
            )
            self.send(note.levelname, self.format(note))

    def send(self, level: str, body: str) -> bool:
        priority = FACILITY * 8 + SEVERITY.get(level, 6)
        tag = program(ServiceIdentity.service or ROOT)
        if self.socket.fileno() == -1:
            # logging.config.dictConfig (uvicorn's, at its start) closes every handler
            # there is, and leaves them in place: they must work on.
            self.socket = shipper_socket()
        try:
            self.socket.sendto(f"<{priority}>{tag}: @cee:{body}".encode(), self.address)
        except OSError as exc:
            if not self.untold:
                write_stderr(
                    f"{tag}: the log shipper at {self.address} takes no records ({exc}); "
                    "they are on stderr only until it does"
                )
            self.dropped += 1
            self.untold += 1
            return False
        return True

    def close(self) -> None:
        self.socket.close()
        super().close()


def shipper_socket() -> socket.socket:
    return socket.socket(
        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
    )


UNSHIPPED = "%d record(s) before this one were not shipped: the log shipper took none"


def setup(service: str, shipper: str = "") -> ShipperHandler | None:
    """Name this process's service, and ship its records to ``shipper`` (the Unix socket
    of this host's rsyslog) besides stderr; return the shipper's handler, if any."""
    leave_service()
    ServiceIdentity.service = service
    if not shipper:
        return None
    handler = ShipperHandler(shipper)
    logging.getLogger(ROOT).addHandler(handler)
    return handler


def leave_service() -> None:
    """This process is no longer the service :func:`setup` named (a session forked from the
    template): its records are named by their logger again and not shipped, and the
    shipper's socket is closed, so that no object names a descriptor it closes or reuses."""
    ServiceIdentity.service = ""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if isinstance(h, ShipperHandler)]:
        logger.removeHandler(old)
        old.close()


def service_logger(name: str) -> logging.Logger:
    """The logger of the module ``name`` (under ``cellhub``): its INFO records and up go to
    stderr from the first call on, a library's own loggers stay at Python's default."""
    root = logging.getLogger(ROOT)
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        root.setLevel(logging.INFO)
        root.addHandler(StderrHandler())
    return logging.getLogger(name)
