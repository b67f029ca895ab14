"""Repository for personal API tokens: the only code that reads or writes the api_tokens table.

A token is shown once, when it is made; the table keeps SHA-256 of it (tokens are 32 random
bytes, so no guessing can use a fast hash) and its first characters, which lists show so
that a person can tell their tokens apart. A copy of the table gives no usable token.
Tokens carry ``scopes`` (kernels, files, admin), an optional expiry, and die with their
account's reset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, or_, select, update

from cellhub.db.models import ApiToken
from cellhub.db.times import now, utc, utc_or_none

SCOPES = ("kernels", "files", "admin")
#: Every token starts with this, so that secret scanners and people can tell what it is.
TOKEN_PREFIX = "chu_"
#: Characters of a token that lists show.
SHOWN = 8
#: Seconds between two writes of a token's ``last_used``.
TOUCH_EVERY = 60.0


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stale(used: dt.datetime | None, stamp: dt.datetime) -> bool:
    """Whether ``last_used`` is worth writing again (once a minute at most: a write per
    request would cost the kernels API more than the lookup)."""
    if used is None:
        return True
    return (stamp - utc(used)).total_seconds() > TOUCH_EVERY


def looks_like_api_token(presented: str) -> bool:
    return presented.startswith(TOKEN_PREFIX)


@dataclass(frozen=True)
class TokenRecord:
    """A token as lists show it: never the token itself."""

    id: int
    prefix: str
    account_id: int
    note: str
    scopes: tuple[str, ...]
    created: dt.datetime
    expires: dt.datetime | None
    last_used: dt.datetime | None


COLUMNS = (
    ApiToken.id,
    ApiToken.prefix,
    ApiToken.account_id,
    ApiToken.note,
    ApiToken.scopes,
    ApiToken.created,
    ApiToken.expires,
    ApiToken.last_used,
)


def _record(row: Any) -> TokenRecord:
    token_id, prefix, account_id, note, scopes, created, expires, last_used = row
    return TokenRecord(
        token_id,
        prefix,
        account_id,
        note,
        tuple(str(scopes).split()),
        utc(created),
        utc_or_none(expires),
        utc_or_none(last_used),
    )


class ApiTokenRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        account_id: int,
        scopes: tuple[str, ...] = ("kernels", "files"),
        note: str = "",
        lifetime: float | None = None,
    ) -> tuple[str, TokenRecord]:
        """A new token for the account: the token (shown once) and its record."""
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise ValueError(f"scopes are some of {', '.join(SCOPES)}, not {sorted(unknown)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        stamp = now()
        expires = stamp + dt.timedelta(seconds=lifetime) if lifetime else None
        with self.engine.begin() as connection:
            made = connection.execute(
                insert(ApiToken)
                .values(
                    key=token_key(token),
                    prefix=token[:SHOWN],
                    account_id=account_id,
                    note=note[:255],
                    scopes=" ".join(s for s in SCOPES if s in scopes),
                    created=stamp,
                    expires=expires,
                )
                .returning(*COLUMNS)
            ).one()
        return token, _record(made)

    def resolve(self, token: str) -> TokenRecord | None:
        """The live token record a presented token is, stamped as used; None if none."""
        stamp = now()
        key = token_key(token)
        with self.engine.begin() as connection:
            row = connection.execute(
                select(*COLUMNS).where(
                    ApiToken.key == key, or_(ApiToken.expires.is_(None), ApiToken.expires > stamp)
                )
            ).first()
            if row is not None and _stale(row.last_used, stamp):
                connection.execute(
                    update(ApiToken).where(ApiToken.key == key).values(last_used=stamp)
                )
        return None if row is None else _record(row)

    def listed(self, account_id: int) -> list[TokenRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(*COLUMNS).where(ApiToken.account_id == account_id).order_by(ApiToken.id)
            ).all()
        return [_record(row) for row in rows]

    def revoke(self, account_id: int, token_id: int) -> bool:
        """Revoke one of the account's tokens; False when it has no such token."""
        with self.engine.begin() as connection:
            gone = connection.execute(
                delete(ApiToken).where(ApiToken.account_id == account_id, ApiToken.id == token_id)
            ).rowcount
        return bool(gone)
