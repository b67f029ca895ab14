"""The kinds of service a deployment runs, each as one :class:`ServiceKind`: how it runs in the
foreground (:class:`Launch`), what it needs first, and how to tell it is healthy.

The launcher (deploy/launcher.py) runs a :class:`Launch` as a daemon with a pid file, and
``cellhub render systemd`` (deploy/systemd.py) writes it as a unit: one description of each
service serves both. A kind overrides:

- :meth:`ServiceKind.launch` → the command, its environment and its user; may write the
  configuration files it reads (rendered by deploy/render.py);
- :meth:`ServiceKind.prepare` → what must be done once before it starts (initdb,
  migrations); ``cellhub prepare`` runs it too, as a systemd unit's ``ExecStartPre``;
- :meth:`ServiceKind.problem` → None when it is healthy, else what is wrong, in words.

:data:`SERVICE_KINDS` maps each kind of the deployment file (deployment_file.KINDS), and the
log forwarder the deployment adds on its own, to its implementation; a kind without one
(``None``) is described by the file but not started by cellhub yet: adding it is one entry
here.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx
import psutil

from cellhub import __version__
from cellhub.deploy import postgres, render
from cellhub.deploy.deployment_file import FORWARDER, Service
from cellhub.deploy.log_service import LogService, rsyslogd, rsyslogd_argv
from cellhub.deploy.site import Site
from cellhub.sandbox.environment import session_environment

#: Debian installs the daemons in /usr/sbin, which an ordinary user's PATH may leave out.
SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
#: A version number in a program's own words (``haproxy -v``, ``postgres --version``).
VERSION = re.compile(r"\d+(\.\d+)+")
#: Seconds one health check may take.
CHECK_TIMEOUT = 3.0


@dataclass(frozen=True)
class Launch:
    """One service's process, run in the foreground: by the launcher as a daemon, by systemd
    as a unit. ``env``: variables beside the kind's base environment (secrets go here, never
    on the command line, which every local user can read)."""

    argv: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None


class ServiceKind:
    """The base of every kind: override :meth:`launch` and :meth:`problem`."""

    #: The signal that stops it, without waiting for its clients to leave.
    stop_signal = signal.SIGTERM

    def launch(self, service: Service, site: Site) -> Launch:
        raise NotImplementedError

    def prepare(self, service: Service, site: Site) -> None:
        """What must happen before each start; nothing by default."""

    def problem(self, service: Service, site: Site) -> str | None:
        raise NotImplementedError

    def base_environment(self, site: Site) -> Mapping[str, str]:
        """Ours, less cellhub's settings: a service gets those from the deployment and its
        settings file alone, as under systemd, whatever the shell that ran ``up`` held."""
        return {k: v for k, v in os.environ.items() if not k.startswith("CELLHUB_")}

    def version(self) -> str:
        return __version__


def cellhub_argv(command: str, service: Service, site: Site) -> list[str]:
    """``python -m cellhub COMMAND`` with the settings file, the service's own data dir,
    and its certificates."""
    settings = ["--config", str(site.deployment.settings)] if site.deployment.settings else []
    return [
        sys.executable,
        "-P",
        "-m",
        "cellhub",
        command,
        *settings,
        "--data-dir",
        str(site.folder(service)),
        *site.tls_flags(service),
    ]


def port_problem(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), CHECK_TIMEOUT).close()
    except OSError as exc:
        return f"port {port} does not answer ({exc.strerror or exc})"
    return None


def http_problem(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{url} does not answer ({exc})"
    if response.status_code != 200:
        return f"{url} answers {response.status_code} {response.text[:200]}"
    return None


def url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@cache
def program_version(argv: tuple[str, ...]) -> str:
    """The first version-like word a program prints about itself ("" if none)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = VERSION.search(done.stdout + done.stderr)
    return found.group(0) if found else ""


class PostgreSQL(ServiceKind):
    """The deployment's database server: its own cluster in ``run_dir/NAME/data``, every
    client asked for the password in ``secrets/`` (the other hosts' hubs too)."""

    #: PostgreSQL's fast shutdown: SIGTERM would wait for every client to leave.
    stop_signal = signal.SIGINT

    def data(self, service: Service, site: Site) -> tuple[str | None, str]:
        folder = site.run_dir / service.name
        return postgres.server_user(folder), str(folder / "data")

    def launch(self, service: Service, site: Site) -> Launch:
        user, data = self.data(service, site)
        options = postgres.server_options(
            service.port, site.run_dir / service.name, site.deployment.address(service)
        )
        return Launch([postgres.program("postgres"), "-D", data, *options], {}, user)

    def prepare(self, service: Service, site: Site) -> None:
        user, data = self.data(service, site)
        if os.path.exists(os.path.join(data, "PG_VERSION")):
            return
        password = site.run_dir / service.name / "initdb.password"
        password.write_text(site.database_password() + "\n")
        if user is not None:
            shutil.chown(password, user)
        try:
            postgres.initdb(Path(data), user, password)
        finally:
            password.unlink()
        for host in site.deployment.hosts.values():
            network = f"{host.address}/{128 if ':' in host.address else 32}"
            postgres.allow_clients(Path(data), network, "scram-sha-256")

    def problem(self, service: Service, site: Site) -> str | None:
        address, port = site.deployment.address(service), str(service.port)
        ready = [postgres.program("pg_isready"), "-q", "-h", address, "-p", port]
        if subprocess.run(ready, timeout=CHECK_TIMEOUT + 2).returncode != 0:
            return f"PostgreSQL at {url_host(address)}:{port} does not accept connections yet"
        return None

    def version(self) -> str:
        return program_version((postgres.program("postgres"), "--version"))


class Rsyslog(ServiceKind):
    """An rsyslogd of the deployment's log service (deploy/log_service.py), in its folder:
    override :meth:`log_service`. It takes its host's records on ``log.sock`` there."""

    def log_service(self, service: Service, site: Site) -> LogService:
        raise NotImplementedError

    def launch(self, service: Service, site: Site) -> Launch:
        rsyslog = self.log_service(service, site)
        config = rsyslog.work_dir / "rsyslog.conf"
        config.write_text(render.render_rsyslog(rsyslog.shipper))
        config.chmod(0o600)  # the store's holds the log database's password
        return Launch(rsyslogd_argv(config, rsyslog.work_dir / "rsyslogd.pid", rsyslogd()))

    def prepare(self, service: Service, site: Site) -> None:
        """No socket left by a stopped rsyslogd: it would not bind."""
        Path(self.log_service(service, site).shipper.socket).unlink(missing_ok=True)

    def problem(self, service: Service, site: Site) -> str | None:
        if not Path(self.log_service(service, site).shipper.socket).is_socket():
            return "its socket is not there yet"
        return None

    def version(self) -> str:
        return program_version((rsyslogd(), "-v"))


class Logs(Rsyslog):
    """The deployment's log store: an rsyslogd that takes its host's records on a socket and
    other hosts' by RELP on its port, and writes them to the log database
    (``log_database_url``, else the deployment's PostgreSQL)."""

    def log_service(self, service: Service, site: Site) -> LogService:
        settings = site.settings.replace(
            log_store=store_address(service, site),
            log_shipper="",
            log_database_url=site.settings.log_database_url or site.database_url(),
        )
        return LogService.for_host(settings, store=True, work_dir=site.folder(service))

    def prepare(self, service: Service, site: Site) -> None:
        """The log table too (in the deployment's database, made here if this runs first)."""
        store = self.log_service(service, site)
        if store.database_url == site.database_url() and site.deployment.of_kind("postgresql"):
            postgres.create_database(store.database_url)
        store.create_table()
        super().prepare(service, site)

    def problem(self, service: Service, site: Site) -> str | None:
        if (problem := super().problem(service, site)) is not None:
            return problem
        listening = [c for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
        if not any(c.laddr.port == service.port for c in listening):
            return f"port {service.port} is not listening"
        return None


class LogForwarder(Rsyslog):
    """The log forwarder the deployment adds on each host with hubs or workers and no log
    store (deployment_file.FORWARDER): an rsyslogd that takes its host's records on a socket
    and sends them to the store by RELP, keeping them in a disk-assisted queue while the
    store is away. Healthy once its socket is there, whether the store answers or not."""

    def log_service(self, service: Service, site: Site) -> LogService:
        store = site.deployment.of_kind("logs")[0]
        settings = site.settings.replace(log_store=store_address(store, site), log_shipper="")
        return LogService.for_host(settings, store=False, work_dir=site.folder(service))


def store_address(store: Service, site: Site) -> str:
    """``HOST:PORT`` where the log store takes other hosts' records by RELP."""
    return f"{url_host(site.deployment.address(store))}:{store.port}"


def log_shipper(service: Service, site: Site) -> dict[str, str]:
    """The environment that makes a hub or worker ship its records to its host's rsyslog:
    the log store's, or the host's log forwarder (none when the deployment has no store)."""
    for rsyslog in site.deployment.on_host(service.host):
        if rsyslog.kind in ("logs", FORWARDER):
            return {"CELLHUB_LOG_SHIPPER": str(site.folder(rsyslog) / "log.sock")}
    return {}


class Worker(ServiceKind):
    def launch(self, service: Service, site: Site) -> Launch:
        argv = cellhub_argv("worker", service, site)
        where = ["--worker-host", site.deployment.address(service)]
        return Launch(
            [*argv, *where, "--worker-port", str(service.port)], log_shipper(service, site)
        )

    def base_environment(self, site: Site) -> Mapping[str, str]:
        """The sessions' environment, as `cellhub serve` gives its worker (deploy/supervisor.py)."""
        return session_environment(os.environ, site.settings.session_environment)

    def problem(self, service: Service, site: Site) -> str | None:
        return port_problem(site.deployment.address(service), service.port)


class Hub(ServiceKind):
    """A hub on the deployment's database, using the workers the workers file lists."""

    def launch(self, service: Service, site: Site) -> Launch:
        argv = cellhub_argv("hub", service, site)
        where = ["--host", site.deployment.address(service), "--port", str(service.port)]
        env = {"CELLHUB_TOKEN": site.token()}
        if site.database_url():
            env["CELLHUB_DATABASE_URL"] = site.database_url()
        balancers = [site.deployment.address(lb) for lb in site.deployment.of_kind("haproxy")]
        if balancers:
            env["CELLHUB_FORWARDED_ALLOW_IPS"] = ",".join(sorted(set(balancers)))
        workers = ["--workers-file", str(site.workers_file())]
        return Launch([*argv, *where, *workers], {**env, **log_shipper(service, site)})

    def prepare(self, service: Service, site: Site) -> None:
        """The schema, brought up to date once here rather than by hubs starting together."""
        from cellhub.db.database import make_engine, upgrade

        url = site.database_url()
        if not url:
            return
        if site.deployment.of_kind("postgresql"):
            postgres.create_database(url)
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    def problem(self, service: Service, site: Site) -> str | None:
        address = url_host(site.deployment.address(service))
        return http_problem(f"http://{address}:{service.port}/api/health")


def haproxy_program() -> str:
    return shutil.which("haproxy", path=SBIN_PATH) or "haproxy"


class HAProxy(ServiceKind):
    """HAProxy in front of every hub of the deployment, with its runtime API on a Unix socket
    in its folder (a rolling restart drains each hub there: deploy/rolling_restart.py)."""

    def balancer(self, service: Service, site: Site) -> render.LoadBalancer:
        address = site.deployment.address(service)
        routed = any(r.host == service.host for r in site.deployment.of_kind("keepalived"))
        hubs = [
            render.Server(hub.name, render.Endpoint(site.deployment.address(hub), hub.port))
            for hub in site.deployment.of_kind("hub")
        ]
        static = site.deployment.of_kind("nginx")
        return render.LoadBalancer(
            hubs,
            # The virtual address comes and goes: bind every address of the host.
            render.Endpoint("0.0.0.0" if routed else address, service.port),
            render.Endpoint(address, service.options.get("stats_port", 8404)),
            service.options.get("certificate", ""),
            render.Endpoint(site.deployment.address(static[0]), static[0].port) if static else None,
            admin_socket=str(self.admin_socket(service, site)),
        )

    def admin_socket(self, service: Service, site: Site) -> Path:
        return site.run_dir / service.name / "admin.sock"

    def launch(self, service: Service, site: Site) -> Launch:
        folder = site.folder(service)
        config = folder / "haproxy.cfg"
        config.write_text(render.render_haproxy(self.balancer(service, site)))
        return Launch(render.haproxy_argv(config, folder / "haproxy.pid", haproxy_program()))

    def problem(self, service: Service, site: Site) -> str | None:
        return http_problem(f"http://{self.balancer(service, site).stats}/stats")

    def version(self) -> str:
        return program_version((haproxy_program(), "-v"))


def nginx_program() -> str:
    return shutil.which("nginx", path=SBIN_PATH) or "nginx"


class Nginx(ServiceKind):
    """nginx serving the installed package's static files at ``/static/``, in its folder
    (deploy/render.py's StaticServer); HAProxy sends ``/static/`` to it."""

    def server(self, service: Service, site: Site) -> render.StaticServer:
        bind = render.Endpoint(site.deployment.address(service), service.port)
        return render.StaticServer(bind, site.folder(service))

    def launch(self, service: Service, site: Site) -> Launch:
        server = self.server(service, site)
        render.write_nginx_config(server)
        return Launch(render.nginx_argv(server, nginx_program()))

    def problem(self, service: Service, site: Site) -> str | None:
        address = url_host(site.deployment.address(service))
        return http_problem(f"http://{address}:{service.port}/static/favicon.svg")

    def version(self) -> str:
        return program_version((nginx_program(), "-v"))


def keepalived_program() -> str:
    return shutil.which("keepalived", path=SBIN_PATH) or "keepalived"


class Keepalived(ServiceKind):
    """keepalived holding the virtual address while its host's HAProxy answers; the other
    keepalived services of the deployment are its unicast peers."""

    def launch(self, service: Service, site: Site) -> Launch:
        deployment, folder = site.deployment, site.folder(service)
        haproxy = next(lb for lb in deployment.of_kind("haproxy") if lb.host == service.host)
        address = deployment.address(service)
        peers = [deployment.address(r) for r in deployment.of_kind("keepalived") if r != service]
        router = render.VirtualRouter(
            service.name,
            service.options["interface"],
            service.options["virtual_address"],
            service.options["router_id"],
            service.options["priority"],
            service.options["password"],
            render.Endpoint(address, haproxy.options.get("stats_port", 8404)),
            peers,
            address if peers else "",
        )
        config = folder / "keepalived.conf"
        config.write_text(render.render_keepalived(router))
        return Launch(render.keepalived_argv(config, folder, service.name, keepalived_program()))

    def problem(self, service: Service, site: Site) -> str | None:
        return None  # alive is healthy: which host holds the address is VRRP's to decide

    def version(self) -> str:
        return program_version((keepalived_program(), "--version"))


#: Each kind of the deployment file, and what runs it; None: not started by cellhub (none
#: today), though the file describes it. A kind's entry is all ``up``, ``down``, ``status``,
#: ``restart`` and the systemd units need; HAProxy sends ``/static/`` to the deployment's nginx.
SERVICE_KINDS: dict[str, ServiceKind | None] = {
    "postgresql": PostgreSQL(),
    "logs": Logs(),
    FORWARDER: LogForwarder(),
    "worker": Worker(),
    "hub": Hub(),
    "nginx": Nginx(),
    "haproxy": HAProxy(),
    "keepalived": Keepalived(),
}
