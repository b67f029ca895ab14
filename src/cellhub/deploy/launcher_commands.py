"""The launcher's commands of ``cellhub``: ``up``, ``down``, ``status``, ``restart``, and
``prepare``, which systemd units run before a service starts.

Each, and ``cellhub render systemd``, reads the deployment file (``--deployment``, default
``$CELLHUB_DEPLOYMENT`` or ``deployment.toml`` in the current folder) and acts on one of its
hosts: ``--host NAME``, or ``SERVICE@HOST`` for ``restart``; without one, the file's only
host, or the host named as this machine is (its hostname).
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any

from cellhub.config import ConfigError
from cellhub.deploy.deployment_file import Deployment, DeploymentError, load
from cellhub.deploy.launcher import Launcher, LaunchError, status_table
from cellhub.deploy.rolling_restart import restart
from cellhub.deploy.services import SERVICE_KINDS
from cellhub.deploy.site import Site
from cellhub.deploy.systemd import write_units

COMMANDS = ("up", "down", "status", "restart", "prepare")


def add_deployment_flags(parser: argparse.ArgumentParser, host: bool = True) -> None:
    parser.add_argument(
        "--deployment",
        metavar="FILE",
        default=os.environ.get("CELLHUB_DEPLOYMENT", "deployment.toml"),
        help="the deployment file [default: $CELLHUB_DEPLOYMENT or ./deployment.toml]",
    )
    if host:
        parser.add_argument(
            "--host",
            help="the host of the deployment file this is [default: its only host, "
            "or the one named as this machine]",
        )
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")


def add_launcher_parsers(commands: Any) -> None:
    up = commands.add_parser("up", help="start this host's services of the deployment file")
    down = commands.add_parser("down", help="stop this host's services of the deployment file")
    status = commands.add_parser(
        "status", help="this host's services: pid, health, uptime, version"
    )
    for parser in (up, down, status):
        add_deployment_flags(parser)
    restart = commands.add_parser(
        "restart", help="restart a service (or every one of a kind); hubs one at a time"
    )
    restart.add_argument("service", metavar="SERVICE[@HOST]", help="a name or a kind: hub")
    add_deployment_flags(restart, host=False)
    prepare = commands.add_parser(
        "prepare", help="what up does before it starts a service (systemd units run it)"
    )
    prepare.add_argument("service", metavar="SERVICE[@HOST]")
    add_deployment_flags(prepare, host=False)


def add_systemd_parser(daemons: Any) -> None:
    systemd = daemons.add_parser(
        "systemd", help="write systemd units of this host's services of the deployment file"
    )
    add_deployment_flags(systemd)
    systemd.add_argument(
        "--output", metavar="DIR", default="/etc/systemd/system", help="[default: %(default)s]"
    )


def this_host(deployment: Deployment, named: str | None) -> str:
    if named is not None:
        if named not in deployment.hosts:
            raise DeploymentError(
                f"no host {named!r} in {deployment.path} (it has {', '.join(deployment.hosts)})"
            )
        return named
    if len(deployment.hosts) == 1:
        return next(iter(deployment.hosts))
    for name in (socket.gethostname(), socket.gethostname().split(".")[0]):
        if name in deployment.hosts:
            return name
    raise DeploymentError(
        f"which host of {deployment.path} is this? give --host ({', '.join(deployment.hosts)})"
    )


def run_launcher_command(args: argparse.Namespace) -> None:
    """Run ``args.command``; failures end the command with a message, not a traceback."""
    try:
        deployment = load(Path(args.deployment))
        service, _, host = getattr(args, "service", "").partition("@")
        site = Site(deployment, this_host(deployment, getattr(args, "host", None) or host or None))
        launcher = Launcher(site, args.verbose)
        if args.command == "up":
            launcher.up()
        elif args.command == "down":
            launcher.down()
        elif args.command == "status":
            print(status_table(launcher.status()))
        elif args.command == "restart":
            restart(launcher, service)
        elif args.command == "render":
            for path in write_units(site, Path(args.output)):
                print(f"cellhub: wrote {path}")
        else:
            prepare(launcher, service)
    except (DeploymentError, LaunchError, ConfigError, OSError, ValueError) as exc:
        raise SystemExit(f"cellhub {args.command}: {exc}") from None


def prepare(launcher: Launcher, name: str) -> None:
    """What ``up`` does before it starts the service, for a systemd unit's ``ExecStartPre``:
    its configuration files, certificates, database cluster or migrations."""
    for service in launcher.matching(name):
        kind = SERVICE_KINDS[service.kind]
        if kind is not None:
            kind.launch(service, launcher.site)
            kind.prepare(service, launcher.site)
