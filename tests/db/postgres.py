"""A real PostgreSQL server for tests: initdb into a temporary directory, on an ephemeral port.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
that Debian's package creates. The cluster test runs it on a host of its own (a network
namespace), listening on that host's address for the other hosts' hubs. How a cluster is
made is cellhub's own (deploy/postgres.py), shared with the launcher's PostgreSQL.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from cellhub.deploy.postgres import allow_clients, initdb, program, server_options, server_user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_postgres(
    workdir: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    clients: str = "",
    prefix: Sequence[str] = (),
) -> Iterator[str]:
    """Yield a SQLAlchemy URL for a fresh PostgreSQL server; stop it afterwards.

    It listens on ``host`` and ``port`` (default: a free one), accepts loopback clients and
    those of the network ``clients`` (CIDR) without a password, and is started through the
    command ``prefix`` (``nsenter --net=…``: on another host) when one is given."""
    data = workdir / "data"
    port = port or free_port()
    initdb(data, server_user(workdir))
    if clients:
        allow_clients(data, clients)
    options = " ".join([*server_options(port, workdir, host), "-c", "fsync=off"])
    pg_ctl(workdir, "-o", options, "-w", "-l", str(workdir / "log"), "start", prefix=prefix)
    try:
        yield f"postgresql+psycopg://cellhub@{host}:{port}/postgres"
    finally:
        pg_ctl(workdir, "-m", "immediate", "stop", check=False)


def pg_ctl(workdir: Path, *argv: str, prefix: Sequence[str] = (), check: bool = True) -> None:
    """``pg_ctl ARGV`` on the server whose files are in ``workdir``, as its user."""
    user = server_user(workdir)
    as_user = ["runuser", "-u", user, "--"] if user else []
    pg_ctl_argv = [program("pg_ctl"), "-D", str(workdir / "data"), *argv]
    subprocess.run([*prefix, *as_user, *pg_ctl_argv], check=check, capture_output=True)


def stop_postgres(workdir: Path) -> None:
    """Stop the server of :func:`running_postgres` (its clients see it go away), to be
    started again with :func:`start_postgres_again`."""
    pg_ctl(workdir, "-m", "fast", "-w", "stop")


def start_postgres_again(workdir: Path) -> None:
    """Start a server :func:`stop_postgres` stopped, with the options it ran with (which
    PostgreSQL kept in postmaster.opts)."""
    options = (workdir / "data" / "postmaster.opts").read_text().split(" ", 1)[1].strip()
    pg_ctl(workdir, "-o", options, "-w", "-l", str(workdir / "log"), "start")
