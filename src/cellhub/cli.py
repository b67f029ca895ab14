"""The ``cellhub`` command.

``cellhub serve`` runs everything on one machine: a worker (with its template
process) as a child process, and the hub in this process. ``cellhub hub`` and
``cellhub worker`` run one of them alone; ``cellhub db upgrade`` applies migrations.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from cellhub.config import SETTINGS, Config, ConfigError, load_config
from cellhub.deploy.supervisor import WorkerProcess

SERVE_FLAGS = ("host", "port", "data_dir")


def add_setting_flags(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    for name in names:
        f = SETTINGS[name]
        parser.add_argument(
            f"--{name.replace('_', '-')}", dest=name, default=None, help=f.metadata["help"]
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cellhub", description="Run Python from a web browser.")
    parser.add_argument(
        "--config", help="TOML configuration file", default=os.environ.get("CELLHUB_CONFIG")
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run hub, worker and sessions on this machine")
    add_setting_flags(serve, SERVE_FLAGS)
    hub = commands.add_parser("hub", help="run a hub that connects to running workers")
    add_setting_flags(hub, (*SERVE_FLAGS, "workers"))
    worker = commands.add_parser("worker", help="run a worker daemon")
    add_setting_flags(worker, ("data_dir", "worker_host", "worker_port", "worker_socket"))
    worker.add_argument("--config-json", help=argparse.SUPPRESS)
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    db = commands.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    add_setting_flags(db, ("data_dir",))
    return parser


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
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"cellhub: serving at http://{shown}:{port}/?token={token}", flush=True)
    helper = asyncio.create_task(beside()) if beside is not None else None
    try:
        await task
    finally:
        if helper is not None:
            helper.cancel()


def serve(config: Config) -> None:
    prepare_data_dir(config)
    token = config.token or secrets.token_urlsafe(24)
    from cellhub.deploy.certificates import ensure_certificates

    ensure_certificates(config.data_path / "certs")
    worker = WorkerProcess(config)
    try:
        address = worker.start()
        run(serve_hub(config, token, [address], worker.watch))
    finally:
        worker.stop()


def hub(config: Config) -> None:
    if not config.workers:
        raise SystemExit("cellhub: `cellhub hub` needs --workers host:port[,host:port...]")
    prepare_data_dir(config)
    run(serve_hub(config, config.token or secrets.token_urlsafe(24), config.workers))


def run(coro: Any) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


def worker(config: Config, parent: int | None) -> None:
    from cellhub.worker.prctl import die_with_parent
    from cellhub.worker.server import run_worker

    if parent:
        # SIGTERM, not SIGKILL: the worker then stops its template, which kills every session.
        die_with_parent(parent, signal.SIGTERM)
    prepare_data_dir(config)
    run(run_worker(config))


def db_upgrade(config: Config) -> None:
    from cellhub.db.database import make_engine, upgrade

    prepare_data_dir(config)
    upgrade(make_engine(config.db_url))
    print(f"cellhub: database at {config.db_url} is up to date")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"cellhub: {exc}") from exc
    if args.command == "serve":
        serve(config)
    elif args.command == "hub":
        hub(config)
    elif args.command == "worker":
        worker(config, args.parent)
    elif args.command == "db":
        db_upgrade(config)
