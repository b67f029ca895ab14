"""Who is asking, once authenticated: a :class:`Caller`, and the owner of what it makes.

Every way in ends at a caller, which the login middleware (hub/login.py) puts in the
request's scope:

- the deployment token (header, query, or a login made with it): the *bootstrap
  administrator*, so that everything that worked before accounts keeps working; what it
  starts is owned by its client address, as before;
- an account's login session or personal API token: the account, an administrator when its
  role is ``admin``; what it starts is owned by ``user:<account id>`` (ids, not names, so a
  renamed account keeps its work and a new account of an old name gets none of it); an API
  token narrows what it may do to its scopes;
- anonymous clients get no caller (hub/anonymous.py; owner ``anonymous:<address>``).

Kernels, Jupyter sessions, permalinks and (later) worksheets and files carry these owner
strings; hub/ownership.py is the one rule of who sees what: an administrator everything,
anyone else what they own.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from cellhub.db.accounts import AccountRecord

#: Scope key of the authenticated caller.
CALLER = "cellhub.caller"
ACCOUNT_OWNER = "user:"
#: What a login (cookie) may do: everything its account may.
ALL_SCOPES = frozenset({"kernels", "files", "admin"})


def account_owner(account_id: int) -> str:
    return f"{ACCOUNT_OWNER}{account_id}"


@dataclass(frozen=True)
class Caller:
    """An authenticated client: an account (None for the deployment token), whether it is
    an administrator, the scopes it may act in, and the owner of what it starts."""

    account: AccountRecord | None
    is_admin: bool
    scopes: frozenset[str]
    owner: str

    @classmethod
    def bootstrap(cls, address: str) -> Caller:
        """The deployment token's holder: an administrator owning by client address."""
        return cls(None, True, ALL_SCOPES, address)

    @classmethod
    def of_account(cls, account: AccountRecord, scopes: frozenset[str] = ALL_SCOPES) -> Caller:
        admin = account.is_admin and "admin" in scopes
        return cls(account, admin, scopes, account_owner(account.id))

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def name(self) -> str:
        """Who this is, for people (the worksheet's account bar, the admin view, the log of
        a drain): the account's name, or ``admin`` for the deployment token."""
        return self.account.name if self.account is not None else "admin"


def caller(conn: HTTPConnection) -> Caller | None:
    """The request's authenticated caller; None for an anonymous or refused one."""
    found = conn.scope.get(CALLER)
    return found if isinstance(found, Caller) else None
