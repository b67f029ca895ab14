"""``cellhub render systemd`` (deploy/systemd.py): a unit for each service cellhub runs on the
host, checked by ``systemd-analyze verify`` (Debian's systemd package); each starts what the
launcher would start, after the services it needs, its secrets in a 0600 environment file."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from cellhub.deploy.deployment_file import load
from cellhub.deploy.services import SERVICE_KINDS
from cellhub.deploy.site import Site
from cellhub.deploy.systemd import quoted
from tests.deploy.launched import launched, service
from tests.deploy.rsyslog import needs_rsyslog

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
TABLES = (
    service("postgresql", 5432)
    + service("worker", 7000)
    + service("hub", 8888)
    + service("nginx", 8080)
    + service("haproxy", 8080 + 1, stats_port=8404)
    + service(
        "keepalived",
        0,
        interface="lo",
        virtual_address="127.0.0.200/8",
        router_id=51,
        priority=150,
        password="s3cret",
    )
)


def unit_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")


def test_units_start_what_the_launcher_starts(tmp_path: Path) -> None:
    with launched(tmp_path, TABLES) as deployment:
        done = deployment.cellhub("render", "systemd", "--output", str(tmp_path / "units"))
        units = sorted(path.name for path in (tmp_path / "units").iterdir())
        assert units == [
            "cellhub-haproxy.service",
            "cellhub-hub.service",
            "cellhub-keepalived.service",
            "cellhub-nginx.service",
            "cellhub-postgresql.service",
            "cellhub-worker.service",
        ]
        assert done.stdout.count("cellhub: wrote ") == 6
        site = Site(load(deployment.file), "localhost")
        for unit in site.deployment.on_host("localhost"):
            kind = SERVICE_KINDS[unit.kind]
            if kind is None:
                continue
            lines = unit_lines((tmp_path / "units" / f"cellhub-{unit.name}.service").read_text())
            assert shlex.split(lines["ExecStart"]) == kind.launch(unit, site).argv
            assert lines["KillSignal"] == kind.stop_signal.name
            environment = Path(lines["EnvironmentFile"])
            assert environment.stat().st_mode & 0o777 == 0o600
        hub = unit_lines((tmp_path / "units" / "cellhub-hub.service").read_text())
        assert hub["After"].split() == [
            "network-online.target",
            "cellhub-postgresql.service",
            "cellhub-worker.service",
        ]
        assert "CELLHUB_TOKEN=" in Path(hub["EnvironmentFile"]).read_text()
        assert "CELLHUB_TOKEN" not in hub["ExecStart"]
        postgres = unit_lines((tmp_path / "units" / "cellhub-postgresql.service").read_text())
        assert postgres["ExecStartPre"].startswith("+")
        assert postgres["ExecStartPre"].endswith(
            f"prepare --deployment {deployment.file} postgresql@localhost"
        )


@needs_rsyslog
def test_a_host_without_the_log_store_gets_its_forwarder_unit(tmp_path: Path) -> None:
    """The forwarder's unit starts what ``up`` starts, before the host's worker, whose
    environment names the forwarder's socket."""
    hosts = '[host.a]\naddress = "127.0.0.1"\n\n[host.b]\naddress = "127.0.0.2"\n'
    tables = (
        service("postgresql", 5432, host="a")
        + service("logs", 2514, host="a")
        + service("hub", 8888, host="a")
        + service("worker", 7000, host="b")
    )
    with launched(tmp_path, tables, hosts) as deployment:
        output = tmp_path / "units"
        deployment.cellhub("render", "systemd", "--host", "b", "--output", str(output))
        assert sorted(path.name for path in output.iterdir()) == [
            "cellhub-log-forwarder-b.service",
            "cellhub-worker.service",
        ]
        site = Site(load(deployment.file), "b")
        forwarder = site.deployment.on_host("b")[0]
        kind = SERVICE_KINDS["log-forwarder"]
        assert kind is not None, "cellhub launches the log forwarder"
        unit = unit_lines((output / "cellhub-log-forwarder-b.service").read_text())
        assert shlex.split(unit["ExecStart"]) == kind.launch(forwarder, site).argv
        config = (site.folder(forwarder) / "rsyslog.conf").read_text()
        assert 'target="127.0.0.1"' in config and 'port="2514"' in config
        worker = unit_lines((output / "cellhub-worker.service").read_text())
        assert "cellhub-log-forwarder-b.service" in worker["After"].split()
        socket = site.folder(forwarder) / "log.sock"
        assert f'CELLHUB_LOG_SHIPPER="{socket}"' in Path(worker["EnvironmentFile"]).read_text()


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_verifies_the_units(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    bad = tmp_path / "bad" / "bad.service"
    bad.parent.mkdir()
    bad.write_text("[Service]\nExecStart=/bin/true\nKillSignal=SIGNOPE\n")
    complaint = subprocess.run([SYSTEMD_ANALYZE, "verify", str(bad)], capture_output=True)
    assert b"SIGNOPE" in complaint.stderr, "systemd-analyze verify reports a bad unit"
    with launched(tmp_path, TABLES) as deployment:
        deployment.cellhub("render", "systemd", "--output", str(tmp_path / "units"))
        units = sorted(str(path) for path in (tmp_path / "units").iterdir())
        verified = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", *units], capture_output=True, text=True
        )
        assert verified.returncode == 0 and verified.stderr == "", verified.stderr


@pytest.mark.parametrize(
    ("argument", "line"),
    [
        ("/usr/bin/python3", "/usr/bin/python3"),
        ("a b", '"a b"'),
        ("100%", '"100%%"'),
        ("$HOME", '"$$HOME"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
    ],
)
def test_arguments_are_quoted_for_systemd(argument: str, line: str) -> None:
    assert quoted(argument) == line
