"""The ``cellhub`` command.

``cellhub serve`` runs everything on one machine: a worker (with its template
process) as a child process, and the hub in this process. ``cellhub hub`` and
``cellhub worker`` run one of them alone; ``cellhub db upgrade`` applies migrations and
``cellhub db backup|restore FILE`` saves and restores the database; ``cellhub certs``
makes the certificates hubs and workers on different hosts need; ``cellhub workers``
shows the workers a running hub uses; ``cellhub users`` administers accounts (users.py);
``cellhub render`` prints the configurations of HAProxy, keepalived, rsyslog and nginx
(deploy/render.py), or writes systemd units; ``cellhub logs`` shows the services' records
from the log database (log_view.py). ``cellhub up|down|status|restart`` run the services a
deployment file puts on this host (deploy/launcher_commands.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, cast

import orjson

from cellhub import log_records
from cellhub.config import SETTINGS, Config, ConfigError, load_config
from cellhub.deploy import certificates, render
from cellhub.deploy.access_token import access_token, stored_token
from cellhub.deploy.launcher_commands import (
    COMMANDS,
    add_launcher_parsers,
    add_systemd_parser,
    run_launcher_command,
)
from cellhub.deploy.supervisor import WorkerFailed, WorkerProcess
from cellhub.hub.static_files import STATIC_DIR
from cellhub.users import add_users_parser

#: Every setting's default, for the flags' help.
DEFAULTS = Config()
#: The settings ``cellhub db`` reads: where the database is.
DATABASE_SETTINGS = ("data_dir", "database_url")
#: The settings ``cellhub workers`` reads: which hub to ask, and the token to ask with.
HUB_CLIENT_SETTINGS = ("port", "token", "data_dir")
#: The settings ``cellhub logs`` reads: where the log database is.
LOG_SETTINGS = ("database_url", "log_database_url")
#: A certificate's name: a file name in the certs folder, which ``ca`` (the CA's) is not.
CERTIFICATE_NAME = re.compile(r"(?!ca$)[A-Za-z0-9][A-Za-z0-9._-]*")


def add_setting_flags(parser: argparse.ArgumentParser, names: Iterable[str] = SETTINGS) -> None:
    """A flag for each setting, with its help text from the settings table, and ``--config``
    (which may come before or after the command)."""
    parser.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML configuration file"
    )
    group = parser.add_argument_group(
        "settings", "each also a TOML key or CELLHUB_<NAME> (see docs/configuration.md)"
    )
    for name in names:
        f, default = SETTINGS[name], getattr(DEFAULTS, name)
        shown = ", ".join(default) if isinstance(default, list | dict) else str(default)
        text = f.metadata["help"] + (f" [default: {shown}]" if shown else "")
        text = text.replace("%", "%%")  # argparse formats help texts with %
        flag = f"--{name.replace('_', '-')}"
        if f.type == "bool":
            group.add_argument(
                flag, dest=name, default=None, action=argparse.BooleanOptionalAction, help=text
            )
        else:
            metavars = {"list[str]": "A,B,…", "dict[str, Any]": "JSON"}
            metavar = metavars.get(str(f.type), str(f.type).upper())
            group.add_argument(flag, dest=name, default=None, metavar=metavar, help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cellhub", description="Run Python from a web browser.")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (default: $CELLHUB_CONFIG)",
        default=os.environ.get("CELLHUB_CONFIG"),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    renew = "make a new access token: addresses and logins made with the old one stop working"
    serve = commands.add_parser("serve", help="run hub, worker and sessions on this machine")
    serve.add_argument("--new-token", action="store_true", help=renew)
    add_setting_flags(serve)
    hub = commands.add_parser("hub", help="run a hub that connects to running workers")
    hub.add_argument("--new-token", action="store_true", help=renew)
    add_setting_flags(hub)
    worker = commands.add_parser("worker", help="run a worker daemon")
    add_setting_flags(worker)
    worker.add_argument("--config-json", help=argparse.SUPPRESS)
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument(
        "action",
        choices=["upgrade", "backup", "restore"],
        help="upgrade: bring the schema up to date; backup FILE: write the database to FILE; "
        "restore FILE: replace its contents with the backup FILE (stop the hubs first)",
    )
    db.add_argument("file", nargs="?", type=Path, help="the backup file")
    add_setting_flags(db, DATABASE_SETTINGS)
    add_certs_parser(commands)
    workers = commands.add_parser(
        "workers", help="show the workers a running hub uses: state, sessions, capacity, memory"
    )
    workers.add_argument(
        "--hub", metavar="URL", help="the hub to ask [default: http://127.0.0.1:PORT]"
    )
    workers.add_argument(
        "--spares",
        type=int,
        metavar="N",
        help="first have the workers keep N spare sessions ready (before a class: each "
        "worker's share of it), until they restart",
    )
    workers.add_argument(
        "--worker", metavar="NAME", help="with --spares: this worker only [default: every one]"
    )
    add_setting_flags(workers, HUB_CLIENT_SETTINGS)
    add_logs_parser(commands)
    add_render_parser(commands)
    add_launcher_parsers(commands)
    add_users_parser(commands, lambda parser: add_setting_flags(parser, DATABASE_SETTINGS))
    return parser


def add_certs_parser(commands: Any) -> None:
    certs = commands.add_parser("certs", help="make the certificates of hubs and workers")
    actions = certs.add_subparsers(dest="action", required=True)
    where = "folder of the CA and certificates [default: certs in the data dir]"
    init = actions.add_parser("init", help="make the deployment's CA (once)")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    issue = actions.add_parser("issue", help="make a hub's or a worker's certificate and key")
    issue.add_argument("name", help="file name: NAME.crt and NAME.key")
    issue.add_argument("--role", required=True, choices=certificates.ROLES)
    issue.add_argument(
        "--host",
        action="append",
        default=[],
        help="an IP address or DNS name hubs dial this worker at (repeat for more)",
    )
    for action in (init, issue):
        action.add_argument("--dir", help=where)
        add_setting_flags(action, ("data_dir",))


def add_logs_parser(commands: Any) -> None:
    logs = commands.add_parser(
        "logs", help="show the services' log records from the log database (log_database_url)"
    )
    logs.add_argument("service", nargs="?", default="", help="hub, worker, … [default: all]")
    logs.add_argument("--since", metavar="WHEN", help="10m, 2h, 1d ago, or an ISO 8601 time")
    logs.add_argument("--kernel", default="", metavar="ID", help="only this kernel's records")
    logs.add_argument("-n", "--lines", type=int, default=100, help="newest records shown")
    logs.add_argument("-f", "--follow", action="store_true", help="then show new ones")
    logs.add_argument("--json", action="store_true", help="one JSON object per record")
    add_setting_flags(logs, LOG_SETTINGS)


def add_render_parser(commands: Any) -> None:
    """``cellhub render haproxy|keepalived|rsyslog|nginx|systemd``: flags for the inputs of
    deploy/render.py (and deploy/systemd.py)."""
    rendered = commands.add_parser(
        "render",
        help="print the configuration of HAProxy, keepalived, rsyslog or nginx; write systemd "
        "units",
    )
    daemons = rendered.add_subparsers(dest="daemon", required=True)
    haproxy = daemons.add_parser("haproxy", help="HAProxy in front of the hubs")
    haproxy.add_argument(
        "--hub", action="append", required=True, metavar="[NAME=]HOST:PORT", help="repeat"
    )
    haproxy.add_argument("--bind", default="0.0.0.0:80", metavar="HOST:PORT")
    haproxy.add_argument("--stats", default="127.0.0.1:8404", metavar="HOST:PORT")
    haproxy.add_argument("--certificate", default="", help="PEM (chain and key): end TLS here")
    haproxy.add_argument("--static", metavar="HOST:PORT", help="nginx serving /static/")
    haproxy.add_argument("--log", default="", help="syslog target (/dev/log, HOST:PORT, stdout)")
    haproxy.add_argument("--admin-socket", default="", help="path of HAProxy's runtime API")
    keepalived = daemons.add_parser("keepalived", help="one of two HAProxies' virtual address")
    keepalived.add_argument("--name", required=True, help="this load balancer's name")
    keepalived.add_argument("--interface", required=True)
    keepalived.add_argument("--virtual-address", required=True, metavar="ADDRESS/PREFIX")
    keepalived.add_argument("--router-id", type=int, required=True, help="VRRP id, 1-255")
    keepalived.add_argument("--priority", type=int, required=True, help="1-254: highest leads")
    keepalived.add_argument("--password", required=True, help="VRRP password, 1-8 characters")
    keepalived.add_argument("--check", default="127.0.0.1:8404", help="HAProxy's stats port")
    keepalived.add_argument("--peer", action="append", default=[], help="unicast peer; repeat")
    keepalived.add_argument("--source", default="", help="this host's unicast address")
    rsyslog = daemons.add_parser("rsyslog", help="the log service's rsyslogd on one host")
    rsyslog.add_argument("--work-dir", required=True, help="its own directory: queues, state")
    rsyslog.add_argument("--socket", default="", help="Unix socket the services send to")
    rsyslog.add_argument("--listen", metavar="HOST:PORT", help="take other hosts' records (RELP)")
    rsyslog.add_argument("--forward", metavar="HOST:PORT", help="send to the log store (RELP)")
    rsyslog.add_argument("--database-url", metavar="URL", help="write to this log database")
    rsyslog.add_argument("--max-disk-queue", default="1g", help="most disk a queue may take")
    add_systemd_parser(daemons)
    add_render_nginx_parser(daemons)


def add_render_nginx_parser(daemons: Any) -> None:
    nginx = daemons.add_parser("nginx", help="nginx serving /static/ (HAProxy's --static)")
    nginx.add_argument("--bind", default="127.0.0.1:8081", metavar="HOST:PORT")
    nginx.add_argument(
        "--run-dir", required=True, type=Path, help="its pid file, temporary files and error log"
    )
    nginx.add_argument(
        "--static-dir",
        type=Path,
        default=STATIC_DIR,
        help="the folder served [default: the installed package's]",
    )
    nginx.add_argument(
        "--no-brotli",
        dest="brotli",
        action="store_false",
        help="gzip only, even where Debian's brotli modules are installed",
    )


def rendered(args: argparse.Namespace) -> str:
    """The configuration ``cellhub render`` prints; ValueError for an input out of place."""
    if args.daemon == "nginx":
        return render.render_nginx(
            render.StaticServer(
                render.Endpoint.parse(args.bind),
                args.run_dir.absolute(),
                args.static_dir.absolute(),
                render.installed_brotli() if args.brotli else (),
            )
        )
    if args.daemon == "haproxy":
        return render.render_haproxy(
            render.LoadBalancer(
                [render.Server.parse(hub, f"hub{i}") for i, hub in enumerate(args.hub, 1)],
                render.Endpoint.parse(args.bind),
                render.Endpoint.parse(args.stats),
                args.certificate,
                render.Endpoint.parse(args.static) if args.static else None,
                log=args.log,
                admin_socket=args.admin_socket,
            )
        )
    if args.daemon == "rsyslog":
        return render.render_rsyslog(
            render.LogShipper(
                args.work_dir,
                args.socket,
                render.Endpoint.parse(args.listen) if args.listen else None,
                render.Endpoint.parse(args.forward) if args.forward else None,
                render.LogDatabase.from_url(args.database_url) if args.database_url else None,
                args.max_disk_queue,
            )
        )
    return render.render_keepalived(
        render.VirtualRouter(
            args.name,
            args.interface,
            args.virtual_address,
            args.router_id,
            args.priority,
            args.password,
            render.Endpoint.parse(args.check),
            args.peer,
            args.source,
        )
    )


def print_rendered(args: argparse.Namespace) -> None:
    try:
        text = rendered(args)
    except ValueError as exc:
        raise SystemExit(f"cellhub render: {exc}") from None
    print(text, end="")


def config_from(args: argparse.Namespace) -> Config:
    overrides = {name: getattr(args, name, None) for name in SETTINGS}
    if getattr(args, "config_json", None):
        return load_config(
            environ={},
            overrides={
                **orjson.loads(args.config_json),
                **{k: v for k, v in overrides.items() if v is not None},
            },
        )
    return load_config(args.config, overrides=overrides)


def prepare_data_dir(config: Config) -> None:
    """The data dir holds keys and the database: only the service's user may enter it."""
    config.data_path.mkdir(parents=True, exist_ok=True)
    config.data_path.chmod(0o700)


async def serve_hub(
    config: Config,
    token: str,
    workers: list[str],
    beside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run the hub until it is stopped, and ``beside()`` (say, a worker supervisor) with it."""
    from cellhub.hub.app import create_app
    from cellhub.hub.uvicorn_server import HubConfig, HubServer

    app = create_app(config, token, workers)
    server = HubServer(HubConfig(app, config))
    task = asyncio.create_task(server.serve())
    helper = asyncio.create_task(beside()) if beside is not None else None
    if helper is not None:
        # beside() ends only by failing (a worker that cannot start): the hub stops too,
        # even while it is still starting.
        helper.add_done_callback(lambda _: task.cancel())
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"cellhub: serving at http://{shown}:{port}/?token={token}", flush=True)
    try:
        await task
    except asyncio.CancelledError:
        if helper is None or not helper.done():
            raise
    finally:
        if helper is not None:
            helper.cancel()
    if helper is not None and helper.done() and not helper.cancelled():
        failure = helper.exception()
        if failure is not None:
            raise failure


def serve(config: Config, new_token: bool = False) -> None:
    """Everything on this machine: the hub uses its own worker only (the ``workers`` and
    ``workers_file`` of a configuration shared with `cellhub hub` are not its own)."""
    config = config.replace(workers_file="")
    prepare_data_dir(config)
    log_records.setup("hub", config.log_shipper)
    token = access_token(config.data_path, config.token, renew=new_token)
    worker = WorkerProcess(config)
    try:
        address = worker.start()
        run(serve_hub(config, token, [address], worker.watch))
    except WorkerFailed as failure:
        raise SystemExit(str(failure)) from None
    finally:
        worker.stop()
        print("cellhub: stopped; the worker and every session have ended", flush=True)


def hub(config: Config, new_token: bool = False) -> None:
    if bool(config.workers) == bool(config.workers_file):
        raise SystemExit(
            "cellhub: `cellhub hub` needs --workers host:port[,host:port...] or "
            "--workers-file FILE (one of them)"
        )
    if config.workers_file:
        from cellhub.hub.roster import RosterError, read_roster

        try:
            read_roster(Path(config.workers_file))
        except RosterError as exc:
            raise SystemExit(f"cellhub: workers file {config.workers_file}: {exc}") from None
    prepare_data_dir(config)
    log_records.setup("hub", config.log_shipper)
    certificates.credentials(config, "hub")  # a missing file stops the command, not the hub
    token = access_token(config.data_path, config.token, renew=new_token)
    run(serve_hub(config, token, config.workers))


def run(coro: Any) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


def worker(config: Config, parent: int | None) -> None:
    from cellhub.sandbox.prctl import die_with_parent
    from cellhub.worker.server import run_worker

    if parent:
        # SIGTERM, not SIGKILL: the worker then stops its template, which kills every session.
        die_with_parent(parent, signal.SIGTERM)
    prepare_data_dir(config)
    log_records.setup("worker", config.log_shipper)
    run(run_worker(config))


def database(config: Config, action: str, file: Path | None) -> None:
    """``cellhub db upgrade|backup FILE|restore FILE``."""
    from sqlalchemy.engine import make_url

    from cellhub.db import backup
    from cellhub.db.database import make_engine, upgrade

    prepare_data_dir(config)
    shown = make_url(config.db_url).render_as_string(hide_password=True)
    if action == "upgrade":
        upgrade(make_engine(config.db_url))
        print(f"cellhub: database at {shown} is up to date")
        return
    if file is None:
        raise SystemExit(f"cellhub: `cellhub db {action}` needs the backup file")
    try:
        if action == "backup":
            backup.backup(config.db_url, file)
            print(f"cellhub: database at {shown} written to {file}")
        else:
            backup.restore(config.db_url, file)
            print(f"cellhub: database at {shown} restored from {file}")
    except backup.BackupError as exc:
        raise SystemExit(f"cellhub: {exc}") from None


def certs(config: Config, args: argparse.Namespace) -> None:
    folder = certificates.CertificateDirectory(
        Path(args.dir) if args.dir else config.data_path / "certs"
    )
    if args.action == "init":
        try:
            certificates.create_ca(folder, replace=args.force)
        except FileExistsError:
            raise SystemExit(
                f"cellhub: {folder.ca_cert} exists; --force replaces it, and every "
                "certificate it signed stops working"
            ) from None
        print(f"cellhub: made the CA {folder.ca_cert}; its key {folder.ca_key} never leaves here")
    else:
        issue(folder, args.name, cast(certificates.Role, args.role), args.host)


def issue(
    folder: certificates.CertificateDirectory, name: str, role: certificates.Role, hosts: list[str]
) -> None:
    if not CERTIFICATE_NAME.fullmatch(name):
        raise SystemExit(f"cellhub: {name!r} is not a certificate name (letters, digits, ._-)")
    if role == "worker" and not hosts:
        raise SystemExit("cellhub: a worker's certificate needs --host: the address hubs dial")
    if not folder.ca_cert.exists():
        raise SystemExit(f"cellhub: no CA in {folder.directory}; make it with `cellhub certs init`")
    made = certificates.issue_certificate(folder, name, role, hosts)
    names = f" for {', '.join(hosts)}" if hosts else ""
    print(
        f"cellhub: wrote {made.cert} and {made.key}{names}, signed by {made.ca}.\n"
        f"Copy {made.cert.name}, {made.key.name} and {made.ca.name} (never ca.key) to the "
        f"{role}'s host, keep the key 0600, and set there (or --tls-… / CELLHUB_TLS_…):\n"
        f'  tls_certificate = "/path/to/{made.cert.name}"\n'
        f'  tls_key = "/path/to/{made.key.name}"\n'
        f'  tls_ca = "/path/to/{made.ca.name}"'
    )


def workers(config: Config, args: argparse.Namespace) -> None:
    from cellhub.workers_table import HubUnavailable, fetch_workers, render, set_spares

    token = config.token or stored_token(config.data_path)
    if not token:
        raise SystemExit("cellhub: no token: give --token, or --data-dir of the hub")
    if args.worker and args.spares is None:
        raise SystemExit("cellhub: --worker names the worker of --spares; give --spares N too")
    hub_url = args.hub or f"http://127.0.0.1:{config.port}"
    try:
        if args.spares is not None:
            names = (
                [args.worker] if args.worker else [w["name"] for w in fetch_workers(hub_url, token)]
            )
            for name in names:
                set_spares(hub_url, token, name, args.spares)
        print(render(fetch_workers(hub_url, token)))
    except HubUnavailable as exc:
        raise SystemExit(f"cellhub: {exc}") from None


def logs(config: Config, args: argparse.Namespace) -> None:
    """``cellhub logs``: the newest records, and with ``--follow`` new ones until ^C."""
    from sqlalchemy.exc import SQLAlchemyError

    from cellhub.db.database import make_engine
    from cellhub.db.log_store import RecordFilter
    from cellhub.log_view import as_json, parse_since, readable, show

    if not config.log_db_url:
        raise SystemExit(
            "cellhub: no log database: set log_database_url (or a PostgreSQL database_url)"
        )
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise SystemExit(f"cellhub logs: {exc}") from None
    wanted = RecordFilter(args.service, args.kernel, since)
    engine = make_engine(config.log_db_url)
    try:
        show(engine, wanted, args.lines, args.follow, as_json if args.json else readable)
    except KeyboardInterrupt:
        pass
    except SQLAlchemyError as exc:
        raise SystemExit(
            f"cellhub logs: the log database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command in COMMANDS or getattr(args, "daemon", "") == "systemd":
        run_launcher_command(args)
        return
    try:
        config = config_from(args)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"cellhub: {exc}") from exc
    try:
        if args.command == "serve":
            serve(config, args.new_token)
        elif args.command == "hub":
            hub(config, args.new_token)
        elif args.command == "worker":
            worker(config, args.parent)
        elif args.command == "db":
            database(config, args.action, args.file)
        elif args.command == "certs":
            certs(config, args)
        elif args.command == "workers":
            workers(config, args)
        elif args.command == "logs":
            logs(config, args)
        elif args.command == "render":
            print_rendered(args)
        elif args.command == "users":
            from cellhub.users import users

            prepare_data_dir(config)
            users(config, args)
    except ConfigError as exc:  # a tls_* file that is not there
        raise SystemExit(f"cellhub: {exc}") from exc
