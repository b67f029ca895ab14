"""Repository for invitations: the only code that reads or writes the invitations table.

An invitation is a sign-up link an administrator made (``signup = "invitation"``): its code
is 32 random bytes, shown once; the table keeps SHA-256 of it, the role the new account
gets, an expiry, and who used it. A code signs up one account, once: the claim is one
UPDATE that only an unused, unexpired row satisfies, so two people racing with one link
cannot both get in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Engine, insert, select, update

from cellhub.db.models import Invitation
from cellhub.db.times import now


def invitation_key(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class InvitationRepository:
    """Blocking calls: the hub runs them in a thread so its event loop never waits on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, created_by: int | None, lifetime: float, role: str = "user") -> str:
        """A new invitation's code (shown once)."""
        code = secrets.token_urlsafe(32)
        stamp = now()
        with self.engine.begin() as connection:
            connection.execute(
                insert(Invitation).values(
                    key=invitation_key(code),
                    role=role,
                    created_by=created_by,
                    created=stamp,
                    expires=stamp + dt.timedelta(seconds=lifetime),
                )
            )
        return code

    def role_of(self, code: str) -> str | None:
        """The role an unused, unexpired invitation gives; None when the code is no such
        invitation."""
        with self.engine.connect() as connection:
            return connection.scalar(
                select(Invitation.role).where(
                    Invitation.key == invitation_key(code),
                    Invitation.used_by.is_(None),
                    Invitation.expires > now(),
                )
            )

    def claim(self, code: str, account_id: int) -> bool:
        """Mark the invitation used by the account; False when it was used or expired."""
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(Invitation)
                .where(
                    Invitation.key == invitation_key(code),
                    Invitation.used_by.is_(None),
                    Invitation.expires > now(),
                )
                .values(used_by=account_id)
            ).rowcount
        return bool(claimed)
