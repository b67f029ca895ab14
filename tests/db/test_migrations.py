"""Alembic migrations on SQLite and a real PostgreSQL: a new database is made, an upgrade
runs twice harmlessly, and a database from an older revision keeps its rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, inspect

from cellhub.db.accounts import AccountRepository
from cellhub.db.database import alembic_config, make_engine, upgrade
from cellhub.db.kernels import KernelRepository
from cellhub.db.login_sessions import Login, LoginSessionRepository
from cellhub.db.permalinks import PermalinkRepository


def test_upgrade_creates_the_kernels_table_and_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    upgrade(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("kernels")}
    assert {"id", "worker", "state", "created", "last_activity"} <= columns


def test_repository_round_trip(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    repo = KernelRepository(engine)
    repo.add("k1", "python3", "127.0.0.1:1")
    repo.add("k2", "python3", "127.0.0.1:2")
    assert [k.id for k in repo.live()] == ["k1", "k2"]
    repo.end("k1", "test")
    record = repo.get("k1")
    assert record is not None and record.state == "dead" and record.reason == "test"
    repo.end("k2", "worker gone")
    assert repo.live() == []


def test_cli_db_upgrade(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cellhub", "db", "upgrade", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "up to date" in done.stdout
    assert (tmp_path / "cellhub.sqlite").exists()


def test_postgresql(tmp_path: Path) -> None:
    """The same migrations and repository on a real PostgreSQL server."""
    from tests.db.postgres import running_postgres

    with running_postgres(tmp_path / "pg") as url:
        engine = make_engine(url)
        upgrade(engine)
        repo = KernelRepository(engine)
        repo.add("k1", "python3", "w1")
        assert [k.id for k in repo.live()] == ["k1"]
        repo.end("k1", "done")
        record = repo.get("k1")
        assert record is not None and record.state == "dead"
        assert record.created.tzinfo is not None
        engine.dispose()


def kernels_and_links_at_0005(engine: Engine) -> None:
    """A database as today's release (revision 0005) leaves it: a kernel, a permalink, a
    login, a Jupyter session."""
    upgrade(engine, "0005")
    with engine.begin() as db:
        db.exec_driver_sql(
            "INSERT INTO kernels (id, name, worker, owner, state, reason, created, last_activity)"
            " VALUES ('k1', 'python3', 'w1', '127.0.0.1', 'idle', '', '2026-01-01 00:00:00+00',"
            " '2026-01-01 00:00:00+00')"
        )
        db.exec_driver_sql(
            "INSERT INTO permalinks (id, content_hash, code, kernel_name, created, views)"
            " VALUES ('abcdefgh', 'hash', 'print(1)', 'python3', '2026-01-01 00:00:00+00', 3)"
        )
        db.exec_driver_sql(
            "INSERT INTO login_sessions (key, created, expires)"
            " VALUES ('key', '2026-01-01 00:00:00+00', '2999-01-01 00:00:00+00')"
        )


def still_there(engine: Engine) -> None:
    """After the upgrade: the rows kept, the new columns filled, accounts usable."""
    upgrade(engine)
    assert [k.id for k in KernelRepository(engine).live()] == ["k1"]
    shared = PermalinkRepository(engine).get("abcdefgh")
    assert shared is not None and shared.code == "print(1)" and shared.views == 3
    login = LoginSessionRepository(engine).live("key")
    assert login is not None and login.account_id is None  # the deployment token's login
    accounts = AccountRepository(engine)
    ada = accounts.create("ada")
    LoginSessionRepository(engine).add("ada-key", 60, ada.id)
    assert LoginSessionRepository(engine).live("ada-key") == Login(ada.id)
    with engine.connect() as db:
        assert db.exec_driver_sql("SELECT owner FROM permalinks").scalar() == ""


def test_a_0005_database_upgrades_keeping_its_kernels_and_links(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    kernels_and_links_at_0005(engine)
    still_there(engine)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:  # and back: the accounts tables go, the rest stays
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0005")
    assert "accounts" not in inspect(engine).get_table_names()
    assert [k.id for k in KernelRepository(engine).live()] == ["k1"]


def test_a_0005_postgresql_database_upgrades(tmp_path: Path) -> None:
    from tests.db.postgres import running_postgres

    with running_postgres(tmp_path / "pg") as url:
        engine = make_engine(url)
        kernels_and_links_at_0005(engine)
        still_there(engine)
        engine.dispose()
