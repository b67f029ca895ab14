"""``cellhub up``, ``status``, ``restart`` and ``down`` on a one-host deployment of PostgreSQL,
a worker and a hub on ephemeral ports (deploy/launcher.py): each service started in order as
a daemon with a pid file and waited for until healthy, a kernel served, and every process
(the worker's template and sessions too) gone after ``down``."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import sqlalchemy

import cellhub
from cellhub.deploy.postgres import pg_bindir
from tests.db.postgres import running_postgres
from tests.deploy.launched import Launched, family, launched, ports, service
from tests.deploy.nginx import needs_nginx
from tests.deploy.rsyslog import needs_rsyslog
from tests.kernel_client import Hub
from tests.polling import until

pytestmark = pytest.mark.skipif(pg_bindir() is None, reason="PostgreSQL is not installed")


def status_rows(deployment: Launched) -> dict[str, list[str]]:
    lines = deployment.cellhub("status").stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "HOST", "PID", "HEALTH", "UPTIME", "VERSION"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


async def run_code(port: int, token: str) -> str:
    hub = Hub(f"http://127.0.0.1:{port}/", token)
    try:
        _, kernel = await hub.kernel()
        async with kernel:
            return (await kernel.execute("print(6 * 7)")).stream_text()
    finally:
        await hub.aclose()


async def test_up_status_restart_down(tmp_path: Path) -> None:
    database, worker, hub = ports(3)
    tables = service("postgresql", database) + service("worker", worker) + service("hub", hub)
    with launched(tmp_path, tables) as deployment:
        lines = deployment.cellhub("up").stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "postgresql@localhost",
            "worker@localhost",
            "hub@localhost",
        ]
        assert all(": started, pid " in line for line in lines), lines
        pids = deployment.pids()
        assert set(pids) == {"postgresql", "worker", "hub"}
        assert await run_code(hub, deployment.token()) == "42\n"
        assert_secrets_kept(deployment, database, pids)
        if os.geteuid() == 0:  # PostgreSQL runs as postgres, with none of root's groups
            status = Path(f"/proc/{pids['postgresql']}/status").read_text()
            assert psutil.Process(pids["postgresql"]).username() == "postgres"
            groups = re.search(r"^Groups:(.*)$", status, re.M)
            assert groups is not None, "a process's status has its Groups line"
            assert "0" not in groups.group(1).split()

        rows = status_rows(deployment)
        assert {name: row[:3] for name, row in rows.items()} == {
            name: ["localhost", str(pid), "healthy"] for name, pid in pids.items()
        }
        assert rows["hub"][4] == cellhub.__version__
        assert rows["postgresql"][4].startswith("1")  # PostgreSQL 15, 16, …

        again = deployment.cellhub("up").stdout
        assert again.count("already running") == 3 and deployment.pids() == pids

        restarted = deployment.cellhub("restart", "hub@localhost").stdout.splitlines()
        assert restarted[0].startswith(f"hub@localhost: stopped, pid {pids['hub']}")
        assert restarted[1].startswith("hub@localhost: started, pid ")
        assert deployment.pids()["hub"] != pids["hub"]
        assert deployment.pids()["worker"] == pids["worker"]
        assert await run_code(hub, deployment.token()) == "42\n"

        processes = [p for pid in deployment.pids().values() for p in family(pid)]
        assert len(processes) > 3  # the worker's template, PostgreSQL's own processes
        stopped = deployment.cellhub("down").stdout.splitlines()
        assert [line.split(":")[0] for line in stopped] == [
            "hub@localhost",
            "worker@localhost",
            "postgresql@localhost",
        ]
        assert deployment.pids() == {}
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert alive == []
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{hub}/api/health/live", timeout=5)
        rows = status_rows(deployment)
        assert {name: row[1] for name, row in rows.items()} == dict.fromkeys(pids, "-")


def assert_secrets_kept(deployment: Launched, database: int, pids: dict[str, int]) -> None:
    """The token and the database's password are on no command line and in no file but the
    run dir's 0600 secrets; PostgreSQL asks every client for the password, loopback too."""
    secrets = deployment.run_dir / "secrets"
    password = (secrets / "postgresql.password").read_text().strip()
    assert {path.stat().st_mode & 0o777 for path in secrets.iterdir()} == {0o600}
    assert deployment.run_dir.joinpath("secrets").stat().st_mode & 0o777 == 0o700
    for pid in pids.values():
        command_line = " ".join(psutil.Process(pid).cmdline())
        assert deployment.token() not in command_line and password not in command_line
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(f"postgresql://cellhub@127.0.0.1:{database}/cellhub", connect_timeout=5)
    psycopg.connect(
        f"postgresql://cellhub:{password}@127.0.0.1:{database}/cellhub", connect_timeout=5
    ).close()


def test_a_service_that_fails_stops_up_with_its_log(tmp_path: Path) -> None:
    """A hub whose port is taken exits while starting: ``up`` says so, with its log's end,
    and starts nothing after it."""
    worker, hub = ports(2)
    with launched(tmp_path, service("worker", worker) + service("hub", hub)) as deployment:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", hub))
            taken.listen()
            done = deployment.cellhub("up", check=False)
        assert done.returncode != 0
        assert "cellhub up: hub@localhost: exited while starting; the end of" in done.stderr
        assert "address already in use" in done.stderr.lower()
        assert set(deployment.pids()) == {"worker"}


async def test_an_external_database(tmp_path: Path) -> None:
    """With ``database_url`` and no postgresql service, the hubs use that database, migrated
    by ``up`` before the hub starts."""
    worker, hub = ports(2)
    with running_postgres(tmp_path / "pg") as url:
        top = f'database_url = "{url}"\n'
        tables = service("worker", worker) + service("hub", hub)
        with launched(tmp_path / "deployment", tables, top) as deployment:
            lines = deployment.cellhub("up", "--host", "localhost").stdout.splitlines()
            assert len(lines) == 2 and all(": started, pid " in line for line in lines)
            assert await run_code(hub, deployment.token()) == "42\n"
            engine = sqlalchemy.create_engine(url)
            try:
                with engine.connect() as connection:
                    kernels = connection.execute(sqlalchemy.text("SELECT count(*) FROM kernels"))
                    assert kernels.scalar() == 1
            finally:
                engine.dispose()


@needs_nginx
async def test_up_runs_nginx_for_the_static_files(tmp_path: Path) -> None:
    """nginx started beside a hub serves /static/ with its types, and stops with ``down``."""
    worker, hub, static = ports(3)
    tables = service("worker", worker) + service("hub", hub) + service("nginx", static)
    with launched(tmp_path, tables) as deployment:
        lines = deployment.cellhub("up").stdout.splitlines()
        assert [line.split(":")[0] for line in lines][-1] == "nginx@localhost", lines
        nginx = deployment.pids()["nginx"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{static}") as http:
            answer = await http.get("/static/app.css")
            assert answer.status_code == 200 and answer.headers["server"].startswith("nginx")
            assert answer.headers["content-type"].startswith("text/css")
            assert (await http.get("/api")).status_code == 404, "nginx serves /static/ alone"
        assert status_rows(deployment)["nginx"][2] == "healthy"
        deployment.cellhub("down")
        assert not psutil.pid_exists(nginx) or psutil.Process(nginx).status() == "zombie"


@needs_rsyslog
async def test_up_runs_the_log_store_and_the_services_ship_to_it(tmp_path: Path) -> None:
    """The deployment's ``logs`` service is an rsyslogd writing into its PostgreSQL: a kernel
    started through the hub has its records there, read back by ``cellhub logs``."""
    database, store, worker, hub = ports(4)
    tables = (
        service("postgresql", database)
        + service("logs", store)
        + service("worker", worker)
        + service("hub", hub)
    )
    with launched(tmp_path, tables) as deployment:
        lines = deployment.cellhub("up").stdout.splitlines()
        assert [line.split(":")[0] for line in lines][:2] == [
            "postgresql@localhost",
            "logs@localhost",
        ]
        assert status_rows(deployment)["logs"][2] == "healthy"
        assert await run_code(hub, deployment.token()) == "42\n"
        password = (deployment.run_dir / "secrets" / "postgresql.password").read_text().strip()
        url = f"postgresql+psycopg://cellhub:{password}@127.0.0.1:{database}/cellhub"

        def kernel_records() -> list[str]:
            argv = ["logs", "--log-database-url", url, "--json"]
            shown = subprocess.run(
                [sys.executable, "-m", "cellhub", *argv], capture_output=True, text=True
            )
            assert shown.returncode == 0, shown.stderr
            return [line for line in shown.stdout.splitlines() if '"kernel_id"' in line]

        await until(lambda: bool(kernel_records()), "the kernel's records in the log store")
        services = {json.loads(line)["service"] for line in kernel_records()}
        assert {"hub", "worker"} <= services, services
        deployment.cellhub("down")
