"""The deployment file: which hosts a deployment has and which services run on each.

One TOML file describes the whole deployment, and every host reads the same copy;
``cellhub up --host NAME`` starts the services it puts on that host (deploy/launcher.py)::

    run_dir = "/var/lib/cellhub"      # pid files, logs, data dirs (default: run/ beside the file)
    settings = "/etc/cellhub.toml"    # the hubs' and workers' settings (docs/configuration.md)
    database_url = ""                 # an external database; else the postgresql service's

    [host.web1]
    address = "192.0.2.10"

    [[service]]
    kind = "hub"                      # see KINDS
    host = "web1"                     # may be left out when there is one host
    port = 8888                       # default: the kind's
    name = "hub1"                     # default: the kind, numbered when there are several

The file does not name the **log forwarders**: when it has a ``logs`` service (the log
store), every other host that runs hubs or workers gets one (:meth:`Deployment.forwarder`),
an rsyslogd that takes their records and sends them on to the store.

A file without ``[host.…]`` tables has one host, ``localhost`` at 127.0.0.1. :func:`load`
reads and checks it, or raises :class:`DeploymentError` naming the line and the problem:
tomllib gives no positions, so :class:`SourceLines` finds the line of a table's header and of
a key in it (the file's own text, scanned line by line: no second TOML parser to trust).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cellhub.deploy.render import DNS_NAME, NAME


@dataclass(frozen=True)
class Kind:
    """What the file may say of one kind of service: its default port and its other keys
    (name → type), beside kind, name, host and port."""

    port: int
    options: Mapping[str, type] = field(default_factory=dict)
    #: Keys among ``options`` that must be given.
    required: tuple[str, ...] = ()


#: Every kind of service, in the order ``up`` starts them (``down`` stops them in reverse).
KINDS: dict[str, Kind] = {
    "postgresql": Kind(5432),
    "logs": Kind(2514),  # rsyslog receiving RELP
    "worker": Kind(7000),
    "hub": Kind(8888),
    "nginx": Kind(8080),
    "haproxy": Kind(80, {"stats_port": int, "certificate": str}),
    "keepalived": Kind(
        0,
        {
            "interface": str,
            "virtual_address": str,
            "router_id": int,
            "priority": int,
            "password": str,
        },
        ("interface", "virtual_address", "router_id", "priority", "password"),
    ),
}
#: The kind of the services the deployment adds on its own, never written in the file: the
#: log forwarder of each host with hubs or workers and no log store. It starts where the
#: store would.
FORWARDER = "log-forwarder"
#: The kinds whose services ship records to their host's rsyslog (log_records.py).
SHIPPING = ("worker", "hub")
COMMON = ("kind", "name", "host", "port")
TOP_LEVEL = ("run_dir", "settings", "database_url", "host", "service")
#: The host of a file that names none.
LOCALHOST = "localhost"


class DeploymentError(ValueError):
    """The deployment file is not valid; the message says where and what."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str


@dataclass(frozen=True)
class Service:
    name: str
    kind: str
    host: str
    port: int
    options: Mapping[str, Any]
    #: The line of its ``[[service]]`` header, for messages about it.
    line: int

    def __str__(self) -> str:
        return f"{self.name}@{self.host}"


@dataclass(frozen=True)
class Deployment:
    path: Path
    run_dir: Path
    settings: Path | None
    database_url: str
    hosts: Mapping[str, Host]
    services: tuple[Service, ...]

    def address(self, service: Service) -> str:
        return self.hosts[service.host].address

    def of_kind(self, kind: str) -> list[Service]:
        return [service for service in self.services if service.kind == kind]

    def on_host(self, host: str) -> list[Service]:
        """The host's services, its log forwarder too, in the order they start."""
        order = list(KINDS)
        mine = [service for service in self.services if service.host == host]
        forwarder = self.forwarder(host)
        if forwarder is not None:
            mine.append(forwarder)
        return sorted(mine, key=lambda s: order.index("logs" if s.kind == FORWARDER else s.kind))

    def forwarder(self, host: str) -> Service | None:
        """The log forwarder of ``host``, if the deployment has a log store and the host
        runs services that ship records but not the store. Its name holds the host's, so
        that hosts sharing a run dir (tests on one machine) keep their pid files apart."""
        stores = self.of_kind("logs")
        mine = [service for service in self.services if service.host == host]
        if not stores or any(s.kind == "logs" for s in mine):
            return None
        if not any(s.kind in SHIPPING for s in mine):
            return None
        return Service(f"{FORWARDER}-{host}", FORWARDER, host, 0, {}, stores[0].line)


class SourceLines:
    """Where tables and keys are in the file's text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def headers(self, pattern: str) -> list[int]:
        """Lines (from 1) of the table headers whose dotted name matches ``pattern``."""
        header = re.compile(rf"""\s*\[{{1,2}}\s*{pattern}\s*\]{{1,2}}\s*(#.*)?$""")
        return [n for n, line in enumerate(self.lines, 1) if header.match(line)]

    def key(self, table_line: int, key: str) -> int:
        """The line of ``key = …`` in the table whose header is at ``table_line`` (0: before
        any header); the header's own line if it is not found there (an inline table)."""
        assignment = re.compile(rf"""\s*("{key}"|'{key}'|{key})\s*=""")
        for n in range(table_line + 1, len(self.lines) + 1):
            line = self.lines[n - 1]
            if re.match(r"\s*\[", line):
                break
            if assignment.match(line):
                return n
        return table_line


def quoted(name: str) -> str:
    """A table name as a header may spell it: bare, or in either quotes."""
    escaped = re.escape(name)
    return f"""({escaped}|"{escaped}"|'{escaped}')"""


def load(path: Path) -> Deployment:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeploymentError(f"{path}: cannot read it: {exc}") from None
    try:
        return parse(text, path)
    except DeploymentError as exc:
        raise DeploymentError(f"{path}:{exc}") from None


def parse(text: str, path: Path) -> Deployment:
    """The deployment ``text`` describes (``path``: where relative paths start), or
    :class:`DeploymentError` as ``LINE: problem``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise DeploymentError(f"{found.group(1) if found else 1}: not TOML: {exc}") from None
    lines = SourceLines(text)
    for key in data:
        if key not in TOP_LEVEL:
            raise DeploymentError(
                f"{lines.key(0, key) or 1}: unknown key {key!r} (the file has "
                f"{', '.join(TOP_LEVEL)})"
            )
    for key in ("run_dir", "settings", "database_url"):
        if not isinstance(data.get(key, ""), str):
            raise DeploymentError(f"{lines.key(0, key)}: {key} is a string")
    folder = path.absolute().parent
    hosts = parse_hosts(data.get("host", {}), lines)
    services = parse_services(data.get("service", []), hosts, lines)
    deployment = Deployment(
        path.absolute(),
        folder / data.get("run_dir", "run"),
        folder / data["settings"] if data.get("settings") else None,
        data.get("database_url", ""),
        hosts,
        services,
    )
    check_together(deployment, lines)
    return deployment


def parse_hosts(tables: Any, lines: SourceLines) -> dict[str, Host]:
    if not isinstance(tables, dict):
        raise DeploymentError(f"{lines.key(0, 'host')}: host is a table of [host.NAME] tables")
    if not tables:
        return {LOCALHOST: Host(LOCALHOST, "127.0.0.1")}
    hosts = {}
    for name, table in tables.items():
        found = lines.headers(rf"host\s*\.\s*{quoted(name)}")
        at = found[0] if found else lines.key(0, "host")
        if not NAME.fullmatch(name):
            raise DeploymentError(f"{at}: host {name!r} is not a name (letters, digits, ._@-)")
        if not isinstance(table, dict) or set(table) != {"address"}:
            raise DeploymentError(f"{at}: host {name!r} has one key: address")
        address = table["address"]
        if not isinstance(address, str) or not is_address(address):
            raise DeploymentError(
                f"{lines.key(at, 'address')}: host {name!r}: {address!r} is neither an IP "
                "address nor a DNS name"
            )
        hosts[name] = Host(name, address)
    return hosts


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return len(text) <= 253 and bool(DNS_NAME.fullmatch(text))
    return True


def parse_services(
    tables: Any, hosts: Mapping[str, Host], lines: SourceLines
) -> tuple[Service, ...]:
    if not isinstance(tables, list) or not tables:
        raise DeploymentError("1: no [[service]] table: a deployment runs at least a hub")
    headers = lines.headers("service")
    if len(headers) != len(tables):  # written inline, service = [{…}]: the key's line
        headers = [lines.key(0, "service")] * len(tables)
    counts: dict[str, int] = {}
    for table in tables:
        if isinstance(table, dict) and isinstance(table.get("kind"), str):
            counts[table["kind"]] = counts.get(table["kind"], 0) + 1
    numbered: dict[str, int] = {}
    services = []
    for table, at in zip(tables, headers, strict=True):
        kind = table.get("kind") if isinstance(table, dict) else None
        if kind not in KINDS:
            where = lines.key(at, "kind")
            raise DeploymentError(
                f"{where}: a service needs a kind, one of {', '.join(KINDS)}, not {kind!r}"
            )
        numbered[kind] = numbered.get(kind, 0) + 1
        default = kind if counts[kind] == 1 else f"{kind}{numbered[kind]}"
        services.append(parse_service(table, at, default, hosts, lines))
    return tuple(services)


def parse_service(
    table: dict[str, Any], at: int, default_name: str, hosts: Mapping[str, Host], lines: SourceLines
) -> Service:
    kind = KINDS[table["kind"]]
    name = table.get("name", default_name)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise DeploymentError(f"{lines.key(at, 'name')}: {name!r} is not a name")
    place = f"service {name!r}"
    allowed = [*COMMON, *kind.options]
    for key in table:
        if key not in allowed:
            raise DeploymentError(
                f"{lines.key(at, key)}: {place}: unknown key {key!r} (a {table['kind']} has "
                f"{', '.join(allowed)})"
            )
    host = table.get("host", next(iter(hosts)) if len(hosts) == 1 else None)
    if not isinstance(host, str) or host not in hosts:
        problem = "needs a host" if host is None else f"host {host!r} is not a [host.…] table"
        raise DeploymentError(f"{lines.key(at, 'host')}: {place} {problem}")
    port = table.get("port", kind.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
        raise DeploymentError(f"{lines.key(at, 'port')}: {place}: port {port!r} is not 0-65535")
    for key, expected in kind.options.items():
        if key in table and (not isinstance(table[key], expected) or isinstance(table[key], bool)):
            raise DeploymentError(
                f"{lines.key(at, key)}: {place}: {key} is a{'n' if expected is int else ''} "
                f"{expected.__name__}"
            )
    for key in kind.required:
        if key not in table:
            raise DeploymentError(f"{at}: {place} needs {key}")
    options = {key: table[key] for key in kind.options if key in table}
    return Service(name, table["kind"], host, port, options, at)


def check_together(deployment: Deployment, lines: SourceLines) -> None:
    """What no single table shows: names and ports taken twice, and the services that need
    another one."""
    names: dict[str, Service] = {}
    ports: dict[tuple[str, int], Service] = {}
    forwarders = [deployment.forwarder(host) for host in deployment.hosts]
    for service in [*deployment.services, *filter(None, forwarders)]:
        if service.name in names:
            raise DeploymentError(
                f"{service.line}: the name {service.name!r} is also that of the service on "
                f"line {names[service.name].line}"
            )
        names[service.name] = service
        for port in service_ports(service):
            taken = ports.get((service.host, port))
            if taken is not None:
                raise DeploymentError(
                    f"{service.line}: {service.name}: port {port} on {service.host} is also "
                    f"that of {taken.name} (line {taken.line})"
                )
            ports[(service.host, port)] = service
    check_needs(deployment, lines)


def service_ports(service: Service) -> list[int]:
    """The TCP ports a service listens on (0: none fixed)."""
    ports = [service.port]
    if service.kind == "haproxy":
        ports.append(service.options.get("stats_port", 8404))
    return [port for port in ports if port]


def check_needs(deployment: Deployment, lines: SourceLines) -> None:
    hubs, databases = deployment.of_kind("hub"), deployment.of_kind("postgresql")
    if not hubs:
        raise DeploymentError("1: no hub: a deployment runs at least one [[service]] hub")
    if not deployment.of_kind("worker"):
        raise DeploymentError("1: no worker: a deployment runs at least one [[service]] worker")
    for kind in ("postgresql", "logs"):
        if len(deployment.of_kind(kind)) > 1:
            raise DeploymentError(
                f"{deployment.of_kind(kind)[1].line}: a deployment has one {kind} service"
            )
    if databases and deployment.database_url:
        raise DeploymentError(
            f"{lines.key(0, 'database_url')}: database_url or a postgresql service, not both"
        )
    if len(hubs) > 1 and not (databases or deployment.database_url):
        raise DeploymentError(
            f"{hubs[1].line}: several hubs share one database: add a postgresql service, or "
            "database_url"
        )
    balanced = {service.host for service in deployment.of_kind("haproxy")}
    for router in deployment.of_kind("keepalived"):
        if router.host not in balanced:
            raise DeploymentError(
                f"{router.line}: {router.name}: keepalived watches an HAProxy on its host, "
                f"and {router.host} runs none"
            )
