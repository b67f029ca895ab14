"""The hub's ASGI app in process, for fast tests of routes, access, logins and headers.

It has no worker (the lifespan, which connects to workers, does not run): what it serves
is the pages, the permalinks API, the static files and whatever of the kernels and sessions
APIs needs no worker (access, request checks, the records in the database), with every
middleware in place. A kernel start answers 503 (no worker is connected); a kernel the
database knows but no worker runs answers 404.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette

from cellhub.config import Config
from cellhub.db.database import make_engine, upgrade
from cellhub.db.kernels import KernelRepository
from cellhub.db.worker_drains import WorkerDrainRepository
from cellhub.db.worksheets import WorksheetRepository
from cellhub.hub.app import create_app, init_login_budgets, init_repositories
from cellhub.hub.drains import AdminDrains
from cellhub.hub.kernels import KernelService
from cellhub.hub.ratelimit import ClientBudget

TOKEN = "the-token-0123456789"
HUB = "http://hub.test"
#: The database of the hubs made here: ``""``, each its own SQLite file in its data dir; set
#: by tests/hub/conftest.py for the modules that run on PostgreSQL too.
DATABASE_URL = ""
#: The engines of the hubs made here, for tests/hub/conftest.py to close after each test (and
#: each module): nothing else closes them, as no lifespan runs.
ENGINES: list[Engine] = []


def in_process_hub(data: Path, token: str = TOKEN, **settings: Any) -> Starlette:
    """The hub's app with the state its lifespan would set, but no worker."""
    config = Config(data_dir=str(data), **{"database_url": DATABASE_URL, **settings})
    app = create_app(config, token, [])
    engine = make_engine(config.db_url)
    ENGINES.append(engine)
    upgrade(engine)
    app.state.token = token
    app.state.started = time.time()
    app.state.config = config
    init_repositories(app, engine)
    app.state.permalink_creations = ClientBudget(1000, 1000)
    app.state.kernels = KernelService(KernelRepository(engine), [])
    app.state.roster = None
    app.state.drains = AdminDrains(WorkerDrainRepository(engine), app.state.kernels.placement)
    app.state.kernel_starts = ClientBudget(1000, 1000)
    app.state.messages = ClientBudget(1000, 1000)
    init_login_budgets(app, config)
    app.state.worksheets = WorksheetRepository(engine, config.worksheet_versions)
    return app
