"""Repository for accounts and their external identities: the only code that reads or
writes the accounts and identities tables.

An account is the one thing every way of logging in ends at: a local password
(hub/passwords.py), an identity provider's subject (:meth:`AccountRepository.link_identity`,
filled by the OAuth/OIDC login), or an API token (db/api_tokens.py). Its id is what kernels,
permalinks and logins are owned by (hub/owners.py), so renaming an account keeps its work.
Callers get :class:`AccountRecord`, never the password hash, except from
:meth:`AccountRepository.password_hash`, which the login check alone calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cellhub.db.models import Account, ApiToken, Identity, LoginSession
from cellhub.db.times import now, utc, utc_or_none

ROLES = ("user", "admin")
#: An account name: what people type to log in, and what shows in lists and the CLI.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


class AccountExists(Exception):
    """An account with this name (or this identity) is already there."""


class NoSuchAccount(LookupError):
    """No account has this name or id."""


def is_valid_name(name: str) -> bool:
    return NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class AccountRecord:
    """An account as callers see it (no password hash)."""

    id: int
    name: str
    display_name: str
    email: str
    role: str
    group_name: str
    disabled: bool
    created: dt.datetime
    last_login: dt.datetime | None
    has_password: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


COLUMNS = (
    Account.id,
    Account.name,
    Account.display_name,
    Account.email,
    Account.role,
    Account.group_name,
    Account.disabled,
    Account.created,
    Account.last_login,
    Account.password_hash.is_not(None),
)


def _account(row: Any) -> AccountRecord:
    record = AccountRecord(*tuple(row)[: len(COLUMNS)])
    return dataclasses.replace(
        record, created=utc(record.created), last_login=utc_or_none(record.last_login)
    )


class AccountRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        name: str,
        *,
        password_hash: str | None = None,
        role: str = "user",
        display_name: str = "",
        email: str = "",
        group_name: str = "",
    ) -> AccountRecord:
        """A new account; :class:`AccountExists` when the name is taken, ValueError when
        the name or the role is not one."""
        if not is_valid_name(name):
            raise ValueError(f"{name!r} is not an account name (letters, digits, ._@+-)")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        values = {
            "name": name,
            "password_hash": password_hash,
            "role": role,
            "display_name": display_name,
            "email": email,
            "group_name": group_name,
            "disabled": False,
            "created": now(),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(Account).values(**values))
        except IntegrityError:
            raise AccountExists(f"an account named {name!r} exists") from None
        return self.by_name(name)

    def _one(self, *where: object) -> AccountRecord | None:
        with self.engine.connect() as connection:
            # where: SQL expressions; typed as object so that callers need not import them
            row = connection.execute(select(*COLUMNS).where(*where)).first()  # type: ignore[arg-type]
        return None if row is None else _account(row)

    def by_name(self, name: str) -> AccountRecord:
        found = self._one(Account.name == name)
        if found is None:
            raise NoSuchAccount(f"no account named {name!r}")
        return found

    def by_id(self, account_id: int) -> AccountRecord | None:
        return self._one(Account.id == account_id)

    def every(self) -> list[AccountRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(*COLUMNS).order_by(Account.name)).all()
        return [_account(row) for row in rows]

    def password_hash(self, name: str) -> tuple[AccountRecord | None, str | None]:
        """The account called ``name`` and its password hash (for the login check only)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(*COLUMNS, Account.password_hash).where(Account.name == name)
            ).first()
        if row is None:
            return None, None
        stored = cast(str | None, tuple(row)[-1])
        return _account(row), stored

    def _change(self, account_id: int, **values: object) -> None:
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(Account).where(Account.id == account_id).values(**values)
            ).rowcount
        if not changed:
            raise NoSuchAccount(f"no account with id {account_id}")

    def set_password(self, account_id: int, password_hash: str | None) -> None:
        """A new password hash (None: no password login), and every login of the account
        ended, so that whoever knew the old password is out."""
        self._change(account_id, password_hash=password_hash)
        self.end_logins(account_id)

    def set_disabled(self, account_id: int, disabled: bool = True) -> None:
        """Disable (or enable) an account; disabling ends its logins."""
        self._change(account_id, disabled=disabled)
        if disabled:
            self.end_logins(account_id)

    def logged_in(self, account_id: int) -> None:
        self._change(account_id, last_login=now())

    def end_logins(self, account_id: int) -> None:
        """Every login session of the account is gone, on every hub (rows, not memory)."""
        with self.engine.begin() as connection:
            connection.execute(delete(LoginSession).where(LoginSession.account_id == account_id))

    def reset(self, account_id: int) -> None:
        """Back to a fresh account: no password, no logins, no API tokens (its identities
        stay, so that its owner can log in again through their provider). Its kernels are
        the hub's to end (hub/accounts_api.py); its files, once they exist, too."""
        self.set_password(account_id, None)
        with self.engine.begin() as connection:
            connection.execute(delete(ApiToken).where(ApiToken.account_id == account_id))

    def remove(self, account_id: int) -> None:
        """Delete an account and what hangs on it (a sign-up that lost its invitation)."""
        with self.engine.begin() as connection:
            for table in (LoginSession, ApiToken, Identity):
                connection.execute(delete(table).where(table.account_id == account_id))
            connection.execute(delete(Account).where(Account.id == account_id))

    def link_identity(self, provider: str, subject: str, account_id: int) -> None:
        """Record that ``provider``'s ``subject`` logs in as the account;
        :class:`AccountExists` when that identity already belongs to an account."""
        values = {
            "provider": provider,
            "subject": subject,
            "account_id": account_id,
            "created": now(),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(Identity).values(**values))
        except IntegrityError:
            raise AccountExists(f"{provider} identity {subject!r} is linked already") from None

    def by_identity(self, provider: str, subject: str) -> AccountRecord | None:
        """The account ``provider``'s ``subject`` logs in as, if it is linked to one."""
        linked = select(Identity.account_id).where(
            Identity.provider == provider, Identity.subject == subject
        )
        return self._one(Account.id == linked.scalar_subquery())
