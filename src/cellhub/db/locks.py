"""Work done once per deployment, not once per hub: several hubs on one database hold a lock
for it, and the hubs that do not get it leave the work to the one that did.

:func:`once` takes the lock named by the work inside the caller's transaction, without
waiting: True means this transaction does the work, and the lock is released when the
transaction ends (committed, rolled back, or its connection lost: a hub that dies holding
it blocks nobody). On PostgreSQL it is a transaction-level advisory lock, keyed by a hash
of the name; SQLite serves one hub per deployment, which always does the work.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, func, select


def key(name: str) -> int:
    """The advisory lock's key for ``name``: a signed 64-bit number, the same on every hub."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


def once(connection: Connection, name: str) -> bool:
    """Whether this transaction holds the deployment's lock on ``name`` (see the module)."""
    if connection.dialect.name != "postgresql":
        return True
    return bool(connection.scalar(select(func.pg_try_advisory_xact_lock(key(name)))))
