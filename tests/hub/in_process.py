"""The hub's ASGI app in process, for fast tests of pages, logins and headers.

It has no worker (the lifespan, which connects to workers, does not run): what it serves
is the pages, the permalinks API and the static files, with every middleware in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from cellhub.config import Config
from cellhub.db.database import make_engine, upgrade
from cellhub.db.login_sessions import LoginSessionRepository
from cellhub.db.permalinks import PermalinkRepository
from cellhub.hub.app import create_app
from cellhub.hub.ratelimit import ClientBudget

TOKEN = "the-token-0123456789"
HUB = "http://hub.test"


def in_process_hub(data: Path, token: str = TOKEN, **settings: Any) -> Starlette:
    """The hub's app with the state its lifespan would set for pages and permalinks."""
    config = Config(data_dir=str(data), **settings)
    app = create_app(config, token, [])
    engine = make_engine(f"sqlite:///{data / 'db.sqlite'}")
    upgrade(engine)
    app.state.token = token
    app.state.config = config
    app.state.login_sessions = LoginSessionRepository(engine)
    app.state.permalinks = PermalinkRepository(engine)
    app.state.permalink_creations = ClientBudget(1000, 1000)
    return app
