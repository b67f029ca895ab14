"""The services' records (log_records.py): one JSON object each with the time it was made,
readable on stderr, and a shipper that never blocks nor raises, whatever its rsyslog does."""

from __future__ import annotations

import datetime as dt
import logging
import logging.config
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from cellhub import log_records
from cellhub.log_records import ServiceIdentity, ShipperHandler, service_logger


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[socket.socket]:
    """A Unix datagram socket standing in for rsyslog's."""
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listening.bind(str(tmp_path / "log.sock"))
    listening.settimeout(5)
    yield listening
    listening.close()


@pytest.fixture
def shipping(receiver: socket.socket) -> Iterator[ShipperHandler]:
    handler = log_records.setup("worker", receiver.getsockname())
    assert handler is not None
    yield handler
    log_records.setup("")


def shipped(receiver: socket.socket) -> dict[str, object]:
    datagram = receiver.recv(65536).decode()
    head, _, body = datagram.partition(" @cee:")
    assert head.startswith("<") and head.endswith("cellhub-worker:"), head
    record: dict[str, object] = orjson.loads(body)
    return record


def test_a_record_is_json_with_the_time_it_was_made(
    receiver: socket.socket, shipping: ShipperHandler
) -> None:
    made = dt.datetime.now(dt.UTC)
    service_logger("cellhub.worker.test").info(
        "started %s", "it", extra={"kernel_id": "k1", "client": "192.0.2.1"}
    )
    record = shipped(receiver)
    when = dt.datetime.fromisoformat(str(record.pop("time")))
    assert when.tzinfo is not None and abs(when - made) < dt.timedelta(seconds=1)
    assert record == {
        "service": "worker",
        "host": ServiceIdentity.host,
        "level": "info",
        "logger": "cellhub.worker.test",
        "kernel_id": "k1",
        "client": "192.0.2.1",
        "message": "started it",
    }


def test_the_time_is_when_the_record_was_made_not_when_it_was_sent() -> None:
    record = logging.LogRecord("cellhub.hub", logging.INFO, __file__, 1, "m", (), None)
    record.created = 1_700_000_000.123456
    assert log_records.record_time(record) == "2023-11-14T22:13:20.123456Z"


def test_stderr_lines_are_marked_with_service_and_kernel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = service_logger("cellhub.hub.test")
    log.warning("two\nlines", extra={"kernel_id": "k2"})
    assert capsys.readouterr().err == "cellhub-hub: kernel k2: two\ncellhub-hub: kernel k2: lines\n"


def test_without_its_rsyslog_the_service_neither_waits_nor_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = log_records.setup("worker", str(tmp_path / "nobody-listens.sock"))
    assert handler is not None
    try:
        log = service_logger("cellhub.worker.test")
        for i in range(1000):
            log.info("record %d", i)
        assert handler.dropped == 1000
        err = capsys.readouterr().err
        assert err.count("takes no records") == 1 and "record 999" in err
    finally:
        log_records.setup("")


def test_a_full_rsyslog_drops_records_instead_of_blocking(
    receiver: socket.socket, shipping: ShipperHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stopped rsyslog reads nothing: its socket's queue fills, and then each send fails
    at once (EAGAIN) rather than waiting; the count reaches the store when it reads again."""
    log = service_logger("cellhub.worker.test")
    for i in range(5000):  # far more than a Unix socket queues
        log.info("record %d %s", i, "x" * 1000)
    assert shipping.dropped > 0
    capsys.readouterr()
    receiver.settimeout(0.5)
    with pytest.raises(TimeoutError):
        while True:
            receiver.recv(65536)
    log.info("after")
    assert shipped(receiver)["message"] == "after"
    note = shipped(receiver)
    assert note["level"] == "warning"
    assert f"{shipping.dropped} record(s) before this one were not shipped" in str(note["message"])


def test_a_huge_message_is_cut_to_fit_a_datagram(
    receiver: socket.socket, shipping: ShipperHandler
) -> None:
    service_logger("cellhub.worker.test").error("x" * 200_000)
    message = str(shipped(receiver)["message"])
    assert len(message) < 33_000 and message.endswith("characters cut)")


def test_dictconfig_closing_every_handler_does_not_stop_shipping(
    receiver: socket.socket, shipping: ShipperHandler
) -> None:
    """uvicorn configures logging with dictConfig, which closes every handler there is."""
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    service_logger("cellhub.worker.test").info("still here")
    assert shipped(receiver)["message"] == "still here"


def test_a_process_that_leaves_the_service_ships_nothing(
    receiver: socket.socket, shipping: ShipperHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a session forked from the template does first: the shipper's socket is closed,
    and its lines are no longer marked as the service's."""
    log_records.leave_service()
    assert shipping.socket.fileno() == -1
    assert not [h for h in logging.getLogger("cellhub").handlers if isinstance(h, ShipperHandler)]
    service_logger("cellhub.session.test").warning("mine")
    assert capsys.readouterr().err == "cellhub: mine\n"
    receiver.setblocking(False)  # a datagram sent would be there already
    with pytest.raises(BlockingIOError):
        receiver.recv(65536)
