"""The databases the API tests run on: SQLite (each hub's own file, the default) and
PostgreSQL (one server for the whole test session, tests/db/postgres.py).

On PostgreSQL each test, or each module whose hubs live that long, gets a database of its
own, so tests stay independent as they are on their own SQLite files. A new database is a
copy of one migrated once (``CREATE DATABASE … TEMPLATE``): tens of milliseconds, where
migrating each would take a second.
"""

from __future__ import annotations

import itertools

import sqlalchemy
from sqlalchemy.engine import make_url

from cellhub.db.database import make_engine, upgrade

#: The migrated database every test's database is copied from.
TEMPLATE = "cellhub_migrated"


def database_env(url: str) -> dict[str, str]:
    """The environment of a ``cellhub`` process that uses the database at ``url``
    (``""``: its own SQLite file)."""
    return {"CELLHUB_DATABASE_URL": url} if url else {}


class PostgresDatabases:
    """Fresh databases on one PostgreSQL server; ``url``: the server's maintenance database."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = sqlalchemy.create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.numbers = itertools.count(1)
        self.create(TEMPLATE)
        migrated = make_engine(self.url_of(TEMPLATE))
        upgrade(migrated)
        migrated.dispose()  # a template database may have no connections while copied

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str = "template1") -> None:
        with self.admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def fresh(self) -> str:
        """The URL of a new database, with cellhub's schema."""
        name = f"test_{next(self.numbers)}"
        self.create(name, TEMPLATE)
        return self.url_of(name)

    def close(self) -> None:
        self.admin.dispose()
