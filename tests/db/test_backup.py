"""``cellhub db backup FILE`` and ``cellhub db restore FILE`` on SQLite and on a real
PostgreSQL: what was there at the backup is there again after the restore, and what came
after is gone; bad files and missing programs are clear errors that change nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellhub.db.database import make_engine, upgrade
from cellhub.db.kernels import KernelRepository
from cellhub.db.permalinks import PermalinkRepository
from tests.db.postgres import running_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cellhub.sqlite'}"
        return
    with running_postgres(tmp_path / "pg") as url:
        yield url


def cellhub_db(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cellhub", "db", *argv], capture_output=True, text=True, timeout=60
    )


def test_a_restore_brings_back_what_the_backup_held(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    kernels, permalinks = KernelRepository(engine), PermalinkRepository(engine)
    kernels.add("k-before", "python3", "w1", owner="ada")
    link = permalinks.store("print('kept')", "python3")
    saved = tmp_path / "saved.backup"

    done = cellhub_db("backup", str(saved), "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    assert saved.stat().st_size > 0 and "written to" in done.stdout

    kernels.add("k-after", "python3", "w1")
    kernels.end("k-before", "ended after the backup")
    engine.dispose()
    done = cellhub_db("restore", str(saved), "--database-url", database_url)
    assert done.returncode == 0, done.stderr

    engine = make_engine(database_url)
    kernels, permalinks = KernelRepository(engine), PermalinkRepository(engine)
    assert [k.id for k in kernels.live()] == ["k-before"]
    assert kernels.get("k-after") is None
    found = permalinks.get(link)
    assert found is not None and found.code == "print('kept')"
    engine.dispose()


def test_bad_backups_are_clear_errors_that_change_nothing(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    KernelRepository(engine).add("k1", "python3", "w1")
    engine.dispose()
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"not a backup at all\n" * 10)

    missing = cellhub_db("restore", str(tmp_path / "nowhere"), "--database-url", database_url)
    assert missing.returncode != 0 and "no backup at" in missing.stderr
    bad = cellhub_db("restore", str(garbage), "--database-url", database_url)
    assert bad.returncode != 0 and bad.stderr.startswith("cellhub: ")
    no_file = cellhub_db("backup", "--database-url", database_url)
    assert no_file.returncode != 0 and "needs the backup file" in no_file.stderr

    engine = make_engine(database_url)
    assert [k.id for k in KernelRepository(engine).live()] == ["k1"]
    engine.dispose()
