"""The log service as a deployment runs it: a real ``cellhub serve`` whose hub and worker
send their records to this "host's" rsyslogd, which forwards them by RELP to the central
rsyslogd, which writes them to a real PostgreSQL (deploy/log_service.py, both with the
configuration ``cellhub render rsyslog`` prints); ``cellhub logs`` reads them back.

What must hold: every record arrives with the time it was made; the log database may be
away for a minute and the shipper may be killed while kernels run, and the services
neither fail nor wait; afterwards every record is stored. The minute-long outage is the
one slow test here (``test_a_minute_without_the_log_database_loses_nothing``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from cellhub.config import load_config
from cellhub.db.database import make_engine
from cellhub.db.log_store import RecordFilter, StoredRecord, newest_records
from cellhub.deploy.log_service import LogService
from tests.conftest import RunningHub, start_cellhub
from tests.db.postgres import free_port, running_postgres, start_postgres_again, stop_postgres
from tests.deploy.rsyslog import needs_rsyslog
from tests.kernel_client import Hub, KernelClient
from tests.polling import until

pytestmark = needs_rsyslog
#: How long the log database is away in the outage test (the issue's number).
OUTAGE = 60.0
#: How far a stored time may be from when the test saw the record's event happen.
CLOCK_SLACK = dt.timedelta(seconds=2)


@dataclass
class LogDeployment:
    """PostgreSQL, the central rsyslog (the store), one host's rsyslog (a forwarder)."""

    postgres: Path
    url: str
    store: LogService
    host: LogService
    engine: Engine

    @property
    def shipper(self) -> str:
        return self.host.shipper.socket

    def records(self, service: str = "") -> list[StoredRecord]:
        return newest_records(self.engine, RecordFilter(service=service), 100_000)


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogDeployment]:
    with running_postgres(tmp_path / "pg") as url:
        relp = f"127.0.0.1:{free_port()}"
        settings = {"log_database_url": url, "log_store": relp, "data_dir": str(tmp_path)}
        store_config = load_config(environ={}, overrides=settings)
        store = LogService.for_host(store_config, True, tmp_path / "s")
        store.start()
        host_settings = {**settings, "log_shipper": str(tmp_path / "h" / "log.sock")}
        host_config = load_config(environ={}, overrides=host_settings)
        host = LogService.for_host(host_config, False, tmp_path / "h")
        host.start()
        engine = make_engine(url)
        try:
            yield LogDeployment(tmp_path / "pg", url, store, host, engine)
        finally:
            engine.dispose()
            host.stop()
            store.stop()


@pytest.fixture
def cellhub_server(tmp_path: Path, logs: LogDeployment) -> Iterator[RunningHub]:
    """Each test's own ``cellhub serve`` (the ``hub`` fixture's), shipping to the host's
    rsyslog; no preloads: it starts fast."""
    server = start_cellhub(
        tmp_path / "data", env={"CELLHUB_LOG_SHIPPER": logs.shipper, "CELLHUB_PRELOAD": ""}
    )
    yield server
    server.stop()


async def run_printing_kernel(hub: Hub) -> tuple[str, dt.datetime, dt.datetime]:
    """Start a kernel, print from it, shut it down; its id and when its start was asked
    for and answered."""
    asked = dt.datetime.now(dt.UTC)
    kernel_id = await hub.start_kernel()
    answered = dt.datetime.now(dt.UTC)
    client = await KernelClient.connect(hub.url, hub.token, kernel_id)
    async with client:
        done = await client.execute("for i in range(100): print('line', i)")
        assert done.stream_text().count("line") == 100, done.explain()
    response = await hub.http.delete(f"/api/kernels/{kernel_id}")
    assert response.status_code == 204, response.text
    return kernel_id, asked, answered


def median_start(runs: list[tuple[str, dt.datetime, dt.datetime]]) -> float:
    return statistics.median((answered - asked).total_seconds() for _, asked, answered in runs)


def starts_stored(logs: LogDeployment, service: str) -> dict[str, StoredRecord]:
    return {
        r.kernel_id: r
        for r in logs.records(service=service)
        if r.kernel_id and r.message.startswith("started")
    }


def no_service_errors(server: RunningHub, logs: LogDeployment) -> None:
    printed = "".join(server.output)
    assert "Traceback" not in printed and "Logging error" not in printed, printed
    errors = [r for r in logs.records() if r.level in {"error", "critical"}]
    assert not errors, errors


def cellhub_logs(logs: LogDeployment, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "logs", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "CELLHUB_LOG_DATABASE_URL": logs.url},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_records_arrive_with_the_time_they_were_made(
    hub: Hub, cellhub_server: RunningHub, logs: LogDeployment
) -> None:
    runs = [await run_printing_kernel(hub) for _ in range(3)]
    ids = {kernel_id for kernel_id, _, _ in runs}
    await until(lambda: ids <= set(starts_stored(logs, "worker")), "the workers' starts", 30)
    await until(lambda: ids <= set(starts_stored(logs, "hub")), "the hub's starts", 30)
    for kernel_id, asked, answered in runs:
        for service in ("hub", "worker"):
            record = starts_stored(logs, service)[kernel_id]
            assert asked - CLOCK_SLACK <= record.time <= answered + CLOCK_SLACK
            assert record.host and record.level == "info"
        assert starts_stored(logs, "hub")[kernel_id].client == "127.0.0.1"
    kernel_id = runs[0][0]
    shown = cellhub_logs(logs, "worker", "--kernel", kernel_id).splitlines()
    assert [line for line in shown if " worker@" in line and f"kernel {kernel_id}: started" in line]
    assert all(f"kernel {kernel_id}" in line for line in shown), shown
    printed = cellhub_logs(logs, "hub", "--json", "--since", "1h")
    as_json = [orjson.loads(line) for line in printed.splitlines()]
    assert ids <= {record.get("kernel_id") for record in as_json}
    assert {record["service"] for record in as_json} == {"hub"}
    assert cellhub_logs(logs, "--since", "2000-01-01T00:00", "-n", "1").count("\n") == 1
    no_service_errors(cellhub_server, logs)


async def test_a_killed_shipper_costs_the_services_nothing(
    hub: Hub, cellhub_server: RunningHub, logs: LogDeployment
) -> None:
    first, _, _ = await run_printing_kernel(hub)
    await until(lambda: first in starts_stored(logs, "worker"), "the first start", 30)
    assert logs.host.process is not None
    assert logs.host.healthy() and logs.store.healthy()
    logs.host.process.kill()
    logs.host.process.wait()
    assert not logs.host.healthy()
    unshipped = [await run_printing_kernel(hub) for _ in range(3)]
    printed = "".join(cellhub_server.output)
    assert "takes no records" in printed  # said once per service, not per record
    assert printed.count("takes no records") <= 2, printed
    logs.host.start()
    last, _, _ = await run_printing_kernel(hub)
    await until(lambda: last in starts_stored(logs, "worker"), "a start after the restart", 30)
    # The store is told how many records never left their service.
    await until(
        lambda: any("were not shipped" in r.message for r in logs.records()), "the count", 30
    )
    assert not {kernel_id for kernel_id, _, _ in unshipped} & set(starts_stored(logs, "worker"))
    no_service_errors(cellhub_server, logs)


async def test_a_minute_without_the_log_database_loses_nothing(
    hub: Hub, cellhub_server: RunningHub, logs: LogDeployment
) -> None:
    before = [await run_printing_kernel(hub) for _ in range(10)]
    await until(lambda: {k for k, _, _ in before} <= set(starts_stored(logs, "worker")), "", 30)
    stop_postgres(logs.postgres)
    stopped = time.monotonic()
    during: list[tuple[str, dt.datetime, dt.datetime]] = []
    while time.monotonic() - stopped < OUTAGE:
        during.append(await run_printing_kernel(hub))
        await asyncio.sleep(1)
    back = dt.datetime.now(dt.UTC)
    start_postgres_again(logs.postgres)
    ids = {kernel_id for kernel_id, _, _ in during}
    await until(lambda: ids <= set(starts_stored(logs, "worker")), "every held record", 120, 0.5)
    await until(lambda: ids <= set(starts_stored(logs, "hub")), "every held hub record", 30)
    for kernel_id, asked, answered in during:
        record = starts_stored(logs, "worker")[kernel_id]
        assert asked - CLOCK_SLACK <= record.time <= answered + CLOCK_SLACK
        assert record.received >= back  # held until the database was back, not lost
    print(
        f"{len(during)} kernels ran during the {OUTAGE:g} s outage; every record stored; "
        f"median kernel start {median_start(before) * 1e3:.1f} ms before it, "
        f"{median_start(during) * 1e3:.1f} ms during it (not a benchmark: a quiet machine "
        "and bench/log_records.py say more)"
    )
    no_service_errors(cellhub_server, logs)


def test_what_is_not_a_record_is_not_stored_and_holds_nothing_up(
    logs: LogDeployment,
) -> None:
    """Anything that reaches the shipper's socket is escaped into its row, or refused
    before the database (a row PostgreSQL refused would be retried forever, holding up
    every record behind it)."""
    datagrams = [
        b"<14>cellhub-hub: plain text, no JSON",
        b"<14>cellhub-hub: @cee:{not json",
        shipped_record("x", time="yesterday"),
        shipped_record("'); DROP TABLE log_records; --"),
        shipped_record("a \\ and a \" and ''"),
        shipped_record("last"),
    ]
    send(logs, *datagrams)
    wait_for_message(logs, "last")  # not held up by what came before
    assert [r.message for r in logs.records()] == [
        "'); DROP TABLE log_records; --",
        "a \\ and a \" and ''",
        "last",
    ]
    assert {r.time for r in logs.records()} == {dt.datetime(2026, 5, 1, 12, 0, 0, 1, dt.UTC)}
    assert oct(logs.host.work_dir.stat().st_mode & 0o777) == "0o700"  # the socket's dir
    stored_with_password = logs.store.work_dir / "rsyslog.conf"
    assert oct(stored_with_password.stat().st_mode & 0o777) == "0o600"


def test_cellhub_logs_follows_records_as_they_arrive(logs: LogDeployment) -> None:
    """``--follow`` shows a record once it is stored, though it was made long before."""
    send(logs, shipped_record("old"))
    wait_for_message(logs, "old")
    follow = subprocess.Popen(
        [sys.executable, "-m", "cellhub", "logs", "--follow"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "CELLHUB_LOG_DATABASE_URL": logs.url},
    )
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline().endswith(" hub@h info: old\n")
        send(logs, shipped_record("late", time="2020-01-01T00:00:00Z"))
        assert follow.stdout.readline() == "2020-01-01 00:00:00.000000 hub@h info: late\n"
    finally:
        follow.send_signal(signal.SIGINT)
        assert follow.wait(10) == 0
        assert follow.stdout is not None
        follow.stdout.close()


def shipped_record(message: str, **fields: str) -> bytes:
    """A syslog datagram as a service sends it (log_records.py), with ``fields`` changed."""
    record = {
        "time": "2026-05-01T12:00:00.000001Z",
        "service": "hub",
        "host": "h",
        "level": "info",
        "logger": "cellhub.hub",
        "message": message,
        **fields,
    }
    return b"<14>cellhub-hub: @cee:" + orjson.dumps(record)


def send(logs: LogDeployment, *datagrams: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        for datagram in datagrams:
            sender.sendto(datagram, logs.shipper)


def wait_for_message(logs: LogDeployment, message: str) -> None:
    deadline = time.monotonic() + 30
    while not any(r.message == message for r in logs.records()):
        assert time.monotonic() < deadline, f"{message!r} was not stored"
        time.sleep(0.05)
