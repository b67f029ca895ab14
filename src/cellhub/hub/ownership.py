"""Who owns what a client starts, and what a client may see and use: the one rule the
kernels API, the Jupyter sessions API and the WebSocket bridge apply.

- An anonymous client (hub/anonymous.py) sees and uses its own kernels and sessions only
  (owner ``anonymous:<address>``), on the anonymous terms.
- An account (hub/callers.py) sees and uses its own only (owner ``user:<account id>``), and
  runs at most ``user_max_kernels`` at once, each session within ``user_memory`` (or its
  group's entries of ``group_max_kernels`` and ``group_memory``); ids of others' kernels
  answer 403, before anything is looked up, exactly as for an id that is nobody's, so
  guessing ids tells nothing.
- An administrator — an admin account or the deployment token — sees and uses everyone's;
  the deployment token's kernels are owned by its client address, as before accounts.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cellhub.config import Config
from cellhub.db.accounts import AccountRecord
from cellhub.hub import anonymous
from cellhub.hub.auth import client_address, is_anonymous
from cellhub.hub.callers import caller
from cellhub.hub.kernels import KernelService, OwnerLimit

ACCOUNT_REFUSAL = "your account may run {most} kernels at once; shut one down"


def confined_to(conn: HTTPConnection) -> str | None:
    """The owner whose kernels and sessions this client sees; None: everyone's (an
    administrator)."""
    if is_anonymous(conn):
        return anonymous.owner(conn)
    found = caller(conn)
    return None if found is None or found.is_admin else found.owner


async def may_use_kernel(conn: HTTPConnection, kernel_id: str) -> bool:
    """Whether this client may use the kernel: any, as an administrator; else its own."""
    mine = confined_to(conn)
    kernels: KernelService = conn.app.state.kernels
    return mine is None or await kernels.owns(kernel_id, mine)


def refusal(conn: HTTPConnection) -> str:
    """What a client is told when it names a kernel it may not use."""
    if is_anonymous(conn):
        return "anonymous clients may only use kernels they started"
    return "this account may only use kernels it started"


Terms = tuple[str, dict[str, float] | None, OwnerLimit | None]


def kernel_terms(conn: HTTPConnection) -> Terms:
    """Owner, options and limit of a kernel this client starts; the kernel service counts
    an owner's kernels against its limit as it starts one (hub/kernels.py)."""
    config: Config = conn.app.state.config
    if is_anonymous(conn):
        policy = anonymous.AnonymousPolicy.from_config(config)
        limit = OwnerLimit(
            policy.kernels_per_client,
            "anonymous clients may run {most} kernels at once; shut one down",
        )
        return anonymous.owner(conn), policy.kernel_options(), limit
    found = caller(conn)
    if found is None:
        return client_address(conn), None, None
    if found.account is None or found.is_admin:
        return found.owner, None, None
    account = found.account
    most = by_group(config.user_max_kernels, config.group_max_kernels, account)
    memory = by_group(config.user_memory, config.group_memory, account)
    options: dict[str, float] | None = {"memory": memory} if 0 < memory < config.memory else None
    return found.owner, options, OwnerLimit(most, ACCOUNT_REFUSAL)


def by_group(everyone: int, groups: list[str], account: AccountRecord) -> int:
    """A limit of an account of role user: its group's entry (GROUP=N) or everyone's."""
    for entry in groups:
        group, _, value = entry.partition("=")
        if group == account.group_name:
            return int(value)
    return everyone
