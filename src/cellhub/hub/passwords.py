"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

A stolen copy of the accounts table then costs an attacker ~50 ms and 64 MiB per guess per
core, instead of nanoseconds. :func:`verify` answers in about the same time whether or not
the account exists or has a password (it checks a dummy hash then), so that the login form
does not tell which names are taken by how fast it answers.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher()
#: Checked when there is no hash to check, so that a missing account takes as long.
DUMMY = HASHER.hash("no account has this password")
#: Shortest password accepted from a person (admins may still set any through the CLI).
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (None: no password, never matches)."""
    try:
        return HASHER.verify(stored or DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
