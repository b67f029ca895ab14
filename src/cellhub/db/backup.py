"""A deployment's database to one file and back: ``cellhub db backup FILE`` / ``restore FILE``.

- **SQLite**: SQLite's online backup API copies the database page by page into a new
  SQLite file, consistent even while hubs write (the WAL included). Restoring copies it
  back the same way, replacing every table.
- **PostgreSQL**: ``pg_dump`` in its custom format, restored by ``pg_restore --clean
  --if-exists --single-transaction``: a failed restore changes nothing. The programs come
  with Debian's ``postgresql-client``; their major version must be the server's or newer.
  Connection details go to them in libpq's environment variables, so a password never
  shows in a process list.

A backup is written to a temporary file beside ``target`` and renamed into place, so an
interrupted backup never leaves a truncated file under the name asked for. Hubs should be
stopped for a restore: it replaces what they read and write.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """A backup or restore that did not happen, and why."""


def backup(database_url: str, target: Path) -> None:
    """Write the database at ``database_url`` to ``target``."""
    url = make_url(database_url)
    with _written_in_place(target) as partial:
        if url.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_path(url, must_exist=True), partial)
        elif url.get_backend_name() == "postgresql":
            _pg_run(url, "pg_dump", ["--format=custom", "--no-owner", f"--file={partial}"])
        else:
            raise BackupError(f"cannot back up a {url.get_backend_name()} database")


def restore(database_url: str, source: Path) -> None:
    """Replace the contents of the database at ``database_url`` with the backup ``source``."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(source)
        _sqlite_copy(source, _sqlite_path(url, must_exist=False))
    elif url.get_backend_name() == "postgresql":
        options = ["--clean", "--if-exists", "--no-owner", "--single-transaction"]
        _pg_run(url, "pg_restore", [*options, f"--dbname={url.database}", str(source)])
    else:
        raise BackupError(f"cannot restore a {url.get_backend_name()} database")


@contextlib.contextmanager
def _written_in_place(target: Path) -> Iterator[Path]:
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_path(url: URL, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore")
    path = Path(url.database)
    if must_exist and not path.is_file():
        raise BackupError(f"no SQLite database at {path}")
    return path


def _check_sqlite_backup(source: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite backup: {exc}") from None


def _sqlite_copy(source: Path, target: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as reader,
        contextlib.closing(sqlite3.connect(target)) as writer,
    ):
        reader.backup(writer)


def _pg_run(url: URL, program: str, arguments: list[str]) -> None:
    found = _pg_program(program)
    environment = {**os.environ, **_libpq_environment(url)}
    result = subprocess.run(
        [found, *arguments], env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{program} failed: {result.stderr.strip() or result.returncode}")


def _pg_program(program: str) -> str:
    """``program`` from PATH, or else from the newest PostgreSQL in Debian's own place."""
    found = shutil.which(program)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))
    if found is None and candidates:
        found = candidates[-1]
    if found is None:
        raise BackupError(f"{program} is not installed (apt-get install postgresql-client)")
    return found


def _libpq_environment(url: URL) -> dict[str, str]:
    values = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
    }
    return {name: value for name, value in values.items() if value}
