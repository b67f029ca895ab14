"""Fixtures of the hub tests: real workers (tests/hub/worker_processes.py), and the database
the hubs use.

A module marked ``both_databases`` runs every test on SQLite and on PostgreSQL (ids
``[sqlite]``, ``[postgresql]``): its in-process hubs (tests/hub/in_process.py), its shared
``cellhub_server`` and the hubs its tests start themselves (``start_cellhub``, through
``CELLHUB_DATABASE_URL``) then use a fresh PostgreSQL database of their own
(tests/hub/databases.py). A module-scoped hub of such a module takes
``module_database_url``, so that it is made anew for each database. Other modules run on
SQLite alone, and so do the tests marked ``sqlite_only(reason)`` in a module that runs on
both (they get no PostgreSQL case; the reason says why: a test of something else than the
database that costs hubs of its own).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningHub, start_cellhub
from tests.db.postgres import running_postgres
from tests.hub import in_process
from tests.hub.databases import PostgresDatabases, database_env
from tests.hub.worker_processes import Workers

BACKENDS = ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    definition = metafunc.definition
    if "backend" in metafunc.fixturenames and definition.get_closest_marker("both_databases"):
        sqlite_only = definition.get_closest_marker("sqlite_only") is not None
        backends = BACKENDS[:1] if sqlite_only else BACKENDS
        metafunc.parametrize("backend", backends, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``; SQLite unless the module runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresDatabases]:
    with running_postgres(tmp_path_factory.mktemp("hub-postgres")) as url:
        databases = PostgresDatabases(url)
        yield databases
        databases.close()


@contextlib.contextmanager
def hubs_on(url: str) -> Iterator[str]:
    """In-process hubs made meanwhile use ``url``; their engines are closed afterwards."""
    made = len(in_process.ENGINES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(in_process, "DATABASE_URL", url)
        yield url
    for engine in in_process.ENGINES[made:]:
        engine.dispose()
    del in_process.ENGINES[made:]


def database_for(backend: str, request: pytest.FixtureRequest) -> str:
    """``""`` (each hub's own SQLite file) or the URL of a fresh PostgreSQL database."""
    if backend == "sqlite":
        return ""
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.fresh()


@pytest.fixture(scope="module", autouse=True)
def module_database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The database of the module's shared hubs (``cellhub_server``, module-scoped
    in-process hubs)."""
    with hubs_on(database_for(backend, request)) as url:
        yield url


@pytest.fixture(autouse=True)
def database_url(
    backend: str, module_database_url: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The database of the hubs a test makes itself: in process, or ``start_cellhub``."""
    with hubs_on(database_for(backend, request)) as url, pytest.MonkeyPatch.context() as patch:
        for name, value in database_env(url).items():
            patch.setenv(name, value)
        yield url


@pytest.fixture(scope="module")
def cellhub_server(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[RunningHub]:
    """A cellhub shared by the tests of one module, on the module's database."""
    server = start_cellhub(tmp_path_factory.mktemp("cellhub"), database_env(module_database_url))
    yield server
    server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    yield started
    started.stop()
