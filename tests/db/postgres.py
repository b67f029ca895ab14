"""A real PostgreSQL server for tests: initdb into a temporary directory, on an ephemeral port.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
that Debian's package creates. The cluster test runs it on a host of its own (a network
namespace), listening on that host's address for the other hosts' hubs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path


def pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_user(workdir: Path) -> list[str]:
    """Make ``workdir`` the server's; the command prefix that runs a program as its user."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    os.chown(workdir, user.pw_uid, user.pw_gid)
    workdir.chmod(0o700)
    parent = workdir.parent
    while parent != parent.parent:
        parent.chmod(parent.stat().st_mode | 0o011)
        parent = parent.parent
    return ["runuser", "-u", "postgres", "--"]


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
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    as_user = server_user(workdir)
    data = workdir / "data"
    port = port or free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "cellhub"],
        check=True,
        capture_output=True,
    )
    if clients:
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {clients} trust\n")
    options = f"-p {port} -k {workdir} -c listen_addresses={host} -c fsync=off"
    pg_ctl(workdir, "-o", options, "-w", "-l", str(workdir / "log"), "start", prefix=prefix)
    try:
        yield f"postgresql+psycopg://cellhub@{host}:{port}/postgres"
    finally:
        pg_ctl(workdir, "-m", "immediate", "stop", check=False)


def pg_ctl(workdir: Path, *argv: str, prefix: Sequence[str] = (), check: bool = True) -> None:
    """``pg_ctl ARGV`` on the server whose files are in ``workdir``, as its user."""
    bindir = pg_bindir()
    assert bindir is not None
    as_user = server_user(workdir)
    pg_ctl_argv = [str(bindir / "pg_ctl"), "-D", str(workdir / "data"), *argv]
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
