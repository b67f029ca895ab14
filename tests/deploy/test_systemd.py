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
