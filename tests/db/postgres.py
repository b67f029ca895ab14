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
    user = server_user(workdir)
    as_user = ["runuser", "-u", user, "--"] if user else []
    data = workdir / "data"
    port = port or free_port()
    initdb(data, user)
    if clients:
        allow_clients(data, clients)
    options = " ".join([*server_options(port, workdir, host), "-c", "fsync=off"])
    subprocess.run(
        [
            *prefix,
            *as_user,
            program("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(workdir / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://cellhub@{host}:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, program("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
