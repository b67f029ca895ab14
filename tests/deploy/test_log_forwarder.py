"""The log forwarder ``cellhub up`` runs on a host with a worker and no log store
(deployment_file.FORWARDER, services.LogForwarder): two "hosts" of one deployment file on
127.0.0.1, each brought up with ``cellhub up --host``; the worker's records cross the
forwarder to the store on the other host (its template's too), and ``cellhub logs`` reads
them back with the times they were made, even those made while the store was down. The
forwarder killed with SIGKILL costs the services nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.deploy.launched import Launched, launched, ports, service
from tests.deploy.rsyslog import needs_rsyslog
from tests.kernel_client import Hub
from tests.polling import until

pytestmark = needs_rsyslog
HOSTS = '[host.a]\naddress = "127.0.0.1"\n\n[host.b]\naddress = "127.0.0.1"\n'
#: How far a stored time may be from when the test saw the record's event happen.
CLOCK_SLACK = dt.timedelta(seconds=2)


@dataclass
class TwoHosts:
    """Host a: PostgreSQL, the log store and the hub; host b: a worker (and so a forwarder)."""

    deployment: Launched
    database: int
    hub: int

    def up(self, host: str) -> list[str]:
        return self.deployment.cellhub("up", "--host", host).stdout.splitlines()

    def records(self) -> list[dict[str, str]]:
        """Every record of the log store, as ``cellhub logs --json`` shows them."""
        secrets = self.deployment.run_dir / "secrets"
        password = (secrets / "postgresql.password").read_text().strip()
        url = f"postgresql+psycopg://cellhub:{password}@127.0.0.1:{self.database}/cellhub"
        argv = ["logs", "--log-database-url", url, "--json", "-n", "100000"]
        shown = subprocess.run(
            [sys.executable, "-m", "cellhub", *argv], capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        return [json.loads(line) for line in shown.stdout.splitlines()]

    def started(self, service: str) -> dict[str, dict[str, str]]:
        """The stored records of ``service`` saying a kernel started, by kernel id."""
        return {
            r["kernel_id"]: r
            for r in self.records()
            if r["service"] == service and r.get("kernel_id") and r["message"].startswith("started")
        }

    async def kernel(self) -> tuple[str, dt.datetime, dt.datetime]:
        """A kernel started through the hub, run and shut down: its id, and when its start
        was asked for and answered."""
        hub = Hub(f"http://127.0.0.1:{self.hub}/", self.deployment.token())
        try:
            asked = dt.datetime.now(dt.UTC)
            kernel_id, kernel = await hub.kernel()
            answered = dt.datetime.now(dt.UTC)
            async with kernel:
                assert (await kernel.execute("print(6 * 7)")).stream_text() == "42\n"
            response = await hub.http.delete(f"/api/kernels/{kernel_id}")
            assert response.status_code == 204, response.text
        finally:
            await hub.aclose()
        return kernel_id, asked, answered


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[TwoHosts]:
    """The deployment, not started; both hosts brought down at the end, b first."""
    database, store, worker, hub = ports(4)
    tables = (
        service("postgresql", database, host="a")
        + service("logs", store, host="a")
        + service("hub", hub, host="a")
        + service("worker", worker, host="b")
    )
    with launched(tmp_path, tables, HOSTS) as deployment:
        try:
            yield TwoHosts(deployment, database, hub)
        finally:
            for host in ("b", "a"):
                deployment.cellhub("down", "--host", host, check=False)


def made_between(record: dict[str, str], asked: dt.datetime, answered: dt.datetime) -> bool:
    made = dt.datetime.fromisoformat(record["time"])
    return asked - CLOCK_SLACK <= made <= answered + CLOCK_SLACK


async def test_a_host_without_the_log_store_forwards_its_records(two_hosts: TwoHosts) -> None:
    """Host b is up before the store exists; its worker's records wait in the forwarder
    and reach the store on host a, with their times, service and host, and so do those
    made while the store is stopped."""
    assert [line.split(":")[0] for line in two_hosts.up("b")] == [
        "log-forwarder-b@b",
        "worker@b",
    ]
    assert [line.split(":")[0] for line in two_hosts.up("a")] == [
        "postgresql@a",
        "logs@a",
        "hub@a",
    ]
    status = two_hosts.deployment.cellhub("status", "--host", "b").stdout
    assert re.search(r"^log-forwarder-b\s+b\s+\d+\s+healthy", status, re.M), status
    first = await two_hosts.kernel()
    await until(lambda: first[0] in two_hosts.started("worker"), "the worker's record", 30)
    record = two_hosts.started("worker")[first[0]]
    assert made_between(record, first[1], first[2]), record
    assert record["host"] == socket.gethostname() and record["level"] == "info"
    # The worker's template ships its own records, made before the store was there.
    template = [r for r in two_hosts.records() if r["service"] == "template"]
    assert [r["message"] for r in template if r["message"].startswith("ready: python3")]
    assert dt.datetime.fromisoformat(template[0]["time"]) < first[1]

    store = psutil.Process(two_hosts.deployment.pids()["logs"])
    store.terminate()
    store.wait(30)
    during = [await two_hosts.kernel() for _ in range(2)]
    assert not {k for k, _, _ in during} & set(two_hosts.started("worker"))
    assert two_hosts.up("a")[1].startswith("logs@a: started")
    await until(
        lambda: {k for k, _, _ in during} <= set(two_hosts.started("worker")),
        "the records made while the store was down",
        60,
    )
    for kernel_id, asked, answered in during:
        assert made_between(two_hosts.started("worker")[kernel_id], asked, answered)
    assert not [r for r in two_hosts.records() if r["level"] in {"error", "critical"}]
    await a_killed_forwarder_costs_the_services_nothing(two_hosts)


async def a_killed_forwarder_costs_the_services_nothing(two_hosts: TwoHosts) -> None:
    """(On the same deployment: bringing up two hosts takes most of a test's time.)"""
    forwarder = psutil.Process(two_hosts.deployment.pids()["log-forwarder-b"])
    forwarder.send_signal(signal.SIGKILL)
    forwarder.wait(10)
    unshipped = await two_hosts.kernel()
    worker_log = two_hosts.deployment.run_dir / "logs" / "worker.log"
    said = worker_log.read_text()
    assert "takes no records" in said and "Traceback" not in said, said
    assert two_hosts.up("b")[0].startswith("log-forwarder-b@b: started")
    after = await two_hosts.kernel()
    await until(lambda: after[0] in two_hosts.started("worker"), "a start after the restart", 30)
    assert unshipped[0] not in two_hosts.started("worker")
    assert "Traceback" not in worker_log.read_text()
    assert not [r for r in two_hosts.records() if r["level"] in {"error", "critical"}]
