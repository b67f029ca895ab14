"""The database schema. Runtime objects live elsewhere; schema changes go through migrations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Kernel(Base):
    """One kernel: which worker runs it and what state it is in.

    The kernel → worker map is what lets any hub attach to any kernel.
    """

    __tablename__ = "kernels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), default="python3")
    worker: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_activity: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_kernels_state", "state"),
        Index("ix_kernels_owner_state", "owner", "state"),
    )
