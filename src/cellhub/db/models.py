"""The database schema. Runtime objects live elsewhere; schema changes go through migrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
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


class Permalink(Base):
    """A short link to code: ``/s/{id}`` opens it in a cell, ready to run.

    ``content_hash`` (SHA-256 of code, kernel name and interact state) is unique, so
    sharing the same content twice gives the same link.
    """

    __tablename__ = "permalinks"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(Text)
    kernel_name: Mapped[str] = mapped_column(String(64), default="python3")
    interact_state: Mapped[Any] = mapped_column(JSON, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    views: Mapped[int] = mapped_column(Integer, default=0)
    last_access: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Who shared the content first (an owner as in hub/owners.py; "" before accounts).
    owner: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (Index("ux_permalinks_content_hash", "content_hash", unique=True),)


class LoginSession(Base):
    """A browser's login: the cookie holds a random value, the row only a keyed hash of it.

    ``key`` is HMAC-SHA256 of the cookie value under the access token (hub/login.py), so a
    copy of this table gives no usable cookie, and a hub started with another token finds
    none of the old rows: changing the token logs every browser out.
    """

    __tablename__ = "login_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The account logged in; None: a login with the deployment token (the bootstrap admin).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    #: Last request seen, for the idle expiry (``login_idle_timeout``).
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_login_sessions_expires", "expires"),
        Index("ix_login_sessions_account_id", "account_id"),
    )


class JupyterSession(Base):
    """A Jupyter "session" (``/api/sessions``): a path (a notebook, a console) and its kernel.

    Not a cellhub session process: it is what Jupyter clients (JupyterLab, Thebe) ask for
    instead of a bare kernel. Stored here, not in a hub's memory, so every hub serves it;
    ``owner`` is the kernel start's owner, so an anonymous client sees only its own.
    """

    __tablename__ = "jupyter_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(64), default="")
    kernel_id: Mapped[str] = mapped_column(String(36))
    owner: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_jupyter_sessions_owner", "owner"),
        Index("ix_jupyter_sessions_kernel_id", "kernel_id"),
    )


class Account(Base):
    """A person (or a robot) who logs in: a local password, external identities, or both.

    ``password_hash`` is an argon2id hash (hub/passwords.py), None for an account that logs
    in only through an identity provider or an API token. ``role`` is ``user`` or
    ``admin``; ``group_name`` picks per-group limits. A disabled account keeps its rows but
    can neither log in nor use its tokens.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(16), default="user")
    group_name: Mapped[str] = mapped_column(String(64), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_login: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Identity(Base):
    """An external login (an OAuth/OIDC provider's subject) that belongs to an account."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ux_identities_provider_subject", "provider", "subject", unique=True),
        Index("ix_identities_account_id", "account_id"),
    )


class ApiToken(Base):
    """A personal API token: the row holds SHA-256 of the token, never the token.

    Tokens are 256-bit random strings, so a plain hash is as good as a slow one, and lets a
    request be checked by one indexed lookup. ``prefix`` (the first characters) is what
    lists show. ``scopes`` is a space-separated subset of kernels, files, admin.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(String(255), default="")
    scopes: Mapped[str] = mapped_column(String(255), default="kernels files")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_api_tokens_account_id", "account_id"),)


class Invitation(Base):
    """A sign-up link an admin made: the row holds SHA-256 of its code, never the code."""

    __tablename__ = "invitations"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )


class WorkerDrain(Base):
    """A worker an administrator drained (the admin view, ``POST /api/workers/drain``):
    no hub places a new kernel on it until it is activated again; its kernels go on.

    Kept here rather than written into the workers file, so that every hub of the deployment
    sees it (each reads its own copy of the file, which deployment tools own), and it
    survives restarts. The workers file's own ``state = "draining"`` is the other way in.
    """

    __tablename__ = "worker_drains"

    address: Mapped[str] = mapped_column(String(255), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64), default="")


class Worksheet(Base):
    """An entry of a user's contents: a worksheet (``type`` "notebook") or a folder
    ("directory"; files join later as "file"), at a path unique for its owner.

    ``version`` is the number of the worksheet's current version (0 for a folder): a save
    names the version it was based on, and one based on an older version is a conflict.
    ``owner`` comes from hub/owners.py alone.
    """

    __tablename__ = "worksheets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ux_worksheets_owner_path", "owner", "path", unique=True),)


class WorksheetVersion(Base):
    """One saved version of a worksheet: its .ipynb JSON, zlib-compressed.

    A save adds a row and moves the worksheet's ``version`` in one transaction, so a hub
    killed mid-save leaves the previous version whole. ``checkpoint``: kept as a Jupyter
    checkpoint (the contents API's ``/checkpoints``), never compacted away.
    """

    __tablename__ = "worksheet_versions"

    worksheet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    checkpoint: Mapped[bool] = mapped_column(Boolean, default=False)


class FileBundle(Base):
    """One link of a user's files' chain: a git bundle (storage/git_bundles.py).

    A user's chain is their rows by ``seq``: the first a full bundle (``base`` ""), each
    later one the commits from ``base`` (the previous row's ``head``) to its ``head``. A save
    adds a row in one transaction, so a process killed mid-save leaves the previous chain
    whole; compaction swaps the chain for one full bundle in one transaction too.
    ``files_size``: the total size of the files at ``head``, which the quota counts.
    """

    __tablename__ = "file_bundles"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    base: Mapped[str] = mapped_column(String(64), default="")
    head: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    files_size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FileUploadChunk(Base):
    """A chunk of a file being uploaded in pieces (Jupyter's ``chunk`` field), kept until its
    last chunk arrives and the whole file is saved; any hub may receive any chunk."""

    __tablename__ = "file_upload_chunks"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CloudRemote(Base):
    """A cloud folder a user linked to a folder of their files (storage/cloud_sync.py).

    ``settings`` are rclone's options for the remote's kind, secrets included (a WebDAV
    password in rclone's obscured form, a Dropbox token): the API never hands them back.
    """

    __tablename__ = "cloud_remotes"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text, default="")
    folder: Mapped[str] = mapped_column(Text)
    settings: Mapped[Any] = mapped_column(JSON)
    last_sync: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_result: Mapped[str] = mapped_column(Text, default="")
