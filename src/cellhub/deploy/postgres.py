"""A PostgreSQL server of cellhub's own: Debian's PostgreSQL programs, a data dir and a port.

Shared by the launcher's ``postgresql`` service (deploy/services.py) and the tests' servers
(tests/db/postgres.py), so that both make a cluster the same way. PostgreSQL refuses to run
as root, so as root the server runs as the ``postgres`` user that Debian's package creates:
:func:`server_user` hands the data dir to it and names it, for ``subprocess``'s ``user=``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from cellhub.deploy.daemon import as_user

#: The superuser initdb makes, which hubs connect as.
SUPERUSER = "cellhub"


class PostgresMissing(RuntimeError):
    """PostgreSQL's programs are not installed."""


def pg_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: on PATH, or Debian's versioned folder."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def program(name: str) -> str:
    bindir = pg_bindir()
    if bindir is None:
        raise PostgresMissing("PostgreSQL is not installed (apt-get install postgresql)")
    return str(bindir / name)


def server_user(workdir: Path) -> str | None:
    """Make ``workdir`` the server's; the user to run PostgreSQL's programs as (None: us).

    As root that is ``postgres``, which must also be able to pass through every folder above
    ``workdir`` (their search bit is set for others)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")
    os.chown(workdir, user.pw_uid, user.pw_gid)
    workdir.chmod(0o700)
    parent = workdir.parent
    while parent != parent.parent:
        parent.chmod(parent.stat().st_mode | 0o011)
        parent = parent.parent
    return "postgres"


def initdb(data: Path, user: str | None, password_file: Path | None = None) -> None:
    """A new cluster in ``data`` with the superuser :data:`SUPERUSER`: trusted from this
    host's loopback without ``password_file``; else its password, asked of every client."""
    auth = ["-A", "trust"] if password_file is None else ["-A", "scram-sha-256"]
    pwfile = [] if password_file is None else ["--pwfile", str(password_file)]
    subprocess.run(
        [program("initdb"), "-D", str(data), *auth, *pwfile, "-U", SUPERUSER],
        check=True,
        capture_output=True,
        **as_user(user),
    )


def server_options(port: int, socket_dir: Path, host: str) -> list[str]:
    """The settings of a server on ``host`` and ``port``, its Unix socket in ``socket_dir``
    (not /run/postgresql, which is the system cluster's)."""
    return ["-p", str(port), "-k", str(socket_dir), "-c", f"listen_addresses={host}"]


def allow_clients(data: Path, network: str, method: str = "trust") -> None:
    """Let clients of ``network`` (CIDR) in, by ``method`` (trust, scram-sha-256)."""
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {network} {method}\n")


def create_database(url: str) -> None:
    """Create the database of ``url`` unless it exists (through the server's ``postgres``
    database, which initdb makes)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            named = {"name": target.database}
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            if connection.execute(query, named).first() is None:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        engine.dispose()
