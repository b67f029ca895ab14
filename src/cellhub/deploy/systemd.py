"""systemd units for the services the deployment file puts on one host, for production hosts:
the same commands the launcher runs as daemons (deploy/services.py), under systemd, which
restarts a service that dies and starts them all at boot.

``cellhub render systemd --host NAME --output DIR`` writes ``cellhub-SERVICE.service`` for each
service (a kind cellhub does not run yet is left out), and each one's environment (the
access token, the database URL: never on a command line) to ``run_dir/SERVICE/environment``,
mode 0600. A unit starts after the host's services of the kinds before it (database, workers,
hubs, HAProxy, keepalived), and runs ``cellhub prepare`` first, as ``cellhub up`` does.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cellhub.deploy.daemon import STOP_TIMEOUT
from cellhub.deploy.deployment_file import Service
from cellhub.deploy.render import TEMPLATES
from cellhub.deploy.services import SERVICE_KINDS
from cellhub.deploy.site import Site

#: An argument systemd reads as it is; any other is quoted.
PLAIN = re.compile(r"[A-Za-z0-9_./:=@,+-]+")


def quoted(argument: str) -> str:
    """One argument of an ``Exec*=`` line: systemd expands ``%`` specifiers and ``$``
    variables there, and splits at spaces."""
    escaped = argument.replace("%", "%%").replace("$", "$$")
    if PLAIN.fullmatch(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command_line(argv: list[str]) -> str:
    return " ".join(quoted(argument) for argument in argv)


def unit_name(service: Service) -> str:
    return f"cellhub-{service.name}.service"


@dataclass(frozen=True)
class Unit:
    """What the template needs of one service's unit."""

    deployment: Path
    service: Service
    after: str
    prepare: str
    start: str
    user: str | None
    environment_file: Path
    folder: Path
    kill_signal: str
    stop_timeout: int


def units(site: Site) -> dict[str, str]:
    """Each unit's file name and text, for the services cellhub runs on the site's host."""
    rendered: dict[str, str] = {}
    before: list[Service] = []
    deployment = site.deployment
    for service in deployment.on_host(site.host):
        kind = SERVICE_KINDS[service.kind]
        if kind is None:
            continue
        launch = kind.launch(service, site)
        folder = site.folder(service)
        environment = folder / "environment"
        write_environment(environment, launch.env)
        cellhub = [sys.executable, "-P", "-m", "cellhub"]
        target = f"{service.name}@{service.host}"
        prepare = [*cellhub, "prepare", "--deployment", str(deployment.path), target]
        unit = Unit(
            deployment.path,
            service,
            " ".join(["network-online.target", *(unit_name(s) for s in before)]),
            command_line(prepare),
            command_line(launch.argv),
            launch.user,
            environment,
            folder,
            kind.stop_signal.name,
            int(STOP_TIMEOUT),
        )
        rendered[unit_name(service)] = TEMPLATES.get_template("systemd.service.j2").render(
            unit=unit
        )
        before.append(service)
    return rendered


def write_environment(path: Path, env: Mapping[str, str]) -> None:
    """``NAME="value"`` lines as systemd's ``EnvironmentFile=`` reads them, mode 0600."""
    for name, value in env.items():
        if re.search(r'["\\\n$`]', value):
            raise ValueError(f"{name} holds a quote, backslash or line break")
    lines = [f'{name}="{value}"\n' for name, value in sorted(env.items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(lines)


def write_units(site: Site, output: Path) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units(site).items():
        (output / name).write_text(text)
        written.append(output / name)
    return written
