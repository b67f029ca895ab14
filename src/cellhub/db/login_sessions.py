"""Repository for login sessions: the only code that reads or writes the login_sessions table.

Rows are stored in the deployment's database, not in a hub's memory or data dir, so a
browser that logged in through one hub is logged in on every hub of the deployment, and a
row deleted (logout, expiry) is gone for all of them at once. Rows hold keys, never cookie
values (see hub/login.py for how a key is made).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, insert, select

from cellhub.db.models import LoginSession


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoginSessionRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, key: str, lifetime: float) -> None:
        """Record a login that lasts ``lifetime`` seconds; expired rows go in the same call."""
        stamp = now()
        with self.engine.begin() as connection:
            connection.execute(delete(LoginSession).where(LoginSession.expires <= stamp))
            connection.execute(
                insert(LoginSession).values(
                    key=key, created=stamp, expires=stamp + dt.timedelta(seconds=lifetime)
                )
            )

    def is_live(self, key: str) -> bool:
        """Whether a login with this key exists and has not expired."""
        with self.engine.connect() as connection:
            found = connection.scalar(
                select(LoginSession.key).where(
                    LoginSession.key == key, LoginSession.expires > now()
                )
            )
        return found is not None
