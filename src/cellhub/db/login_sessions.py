"""Repository for login sessions: the only code that reads or writes the login_sessions table.

Rows are stored in the deployment's database, not in a hub's memory or data dir, so a
browser that logged in through one hub is logged in on every hub of the deployment, and a
row deleted (logout, expiry, a password reset) is gone for all of them at once. Rows hold
keys, never cookie values (see hub/login.py for how a key is made), and the account logged
in (None: the deployment token's login, the bootstrap administrator).

A login ends at ``expires`` (the absolute expiry) or after ``idle`` seconds without a
request (the idle expiry): ``last_seen`` is written at most once per :data:`TOUCH_EVERY`, so
a busy browser costs one write a minute, not one per request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, or_, select, update

from cellhub.db.models import LoginSession
from cellhub.db.times import now, utc

#: Seconds between two writes of a login's ``last_seen``.
TOUCH_EVERY = 60.0


@dataclass(frozen=True)
class Login:
    """A live login: who it logs in (None: the deployment token's bootstrap admin)."""

    account_id: int | None


class LoginSessionRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, key: str, lifetime: float, account_id: int | None = None) -> None:
        """Record a login that lasts ``lifetime`` seconds; expired rows go in the same call."""
        stamp = now()
        with self.engine.begin() as connection:
            connection.execute(delete(LoginSession).where(LoginSession.expires <= stamp))
            connection.execute(
                insert(LoginSession).values(
                    key=key,
                    created=stamp,
                    expires=stamp + dt.timedelta(seconds=lifetime),
                    account_id=account_id,
                    last_seen=stamp,
                )
            )

    def live(self, key: str, idle: float = 0.0) -> Login | None:
        """The login with this key, unless it expired or was idle ``idle`` seconds (0: no
        idle expiry); a live one is marked seen."""
        stamp = now()
        query = select(LoginSession.account_id, LoginSession.last_seen).where(
            LoginSession.key == key, LoginSession.expires > stamp
        )
        if idle > 0:
            since = stamp - dt.timedelta(seconds=idle)
            query = query.where(
                or_(LoginSession.last_seen.is_(None), LoginSession.last_seen > since)
            )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        seen = row.last_seen
        if seen is None or (stamp - utc(seen)).total_seconds() > TOUCH_EVERY:
            with self.engine.begin() as connection:
                connection.execute(
                    update(LoginSession).where(LoginSession.key == key).values(last_seen=stamp)
                )
        return Login(row.account_id)

    def is_live(self, key: str) -> bool:
        """Whether a login with this key exists and has not expired."""
        return self.live(key) is not None

    def remove(self, key: str) -> None:
        """End one login (logging out, or a new login in the same browser)."""
        with self.engine.begin() as connection:
            connection.execute(delete(LoginSession).where(LoginSession.key == key))
