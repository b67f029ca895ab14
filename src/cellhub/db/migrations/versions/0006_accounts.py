"""accounts: people, their external identities, API tokens, invitations; owners of logins
and permalinks

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ACCOUNT = "accounts.id"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("email", sa.String(255), nullable=False, server_default=""),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False, server_default="user"),
        sa.Column("group_name", sa.String(64), nullable=False, server_default=""),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column(
            "account_id", sa.Integer(), sa.ForeignKey(ACCOUNT, ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ux_identities_provider_subject", "identities", ["provider", "subject"], unique=True
    )
    op.create_index("ix_identities_account_id", "identities", ["account_id"])
    create_api_tokens()
    create_invitations()
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_login_sessions_account_id", "accounts", ["account_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_login_sessions_account_id", ["account_id"])
    with op.batch_alter_table("permalinks") as batch:
        batch.add_column(sa.Column("owner", sa.String(255), nullable=False, server_default=""))


def create_api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column(
            "account_id", sa.Integer(), sa.ForeignKey(ACCOUNT, ondelete="CASCADE"), nullable=False
        ),
        sa.Column("note", sa.String(255), nullable=False, server_default=""),
        sa.Column("scopes", sa.String(255), nullable=False, server_default="kernels files"),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_account_id", "api_tokens", ["account_id"])


def create_invitations() -> None:
    op.create_table(
        "invitations",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False, server_default="user"),
        sa.Column(
            "created_by", sa.Integer(), sa.ForeignKey(ACCOUNT, ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "used_by", sa.Integer(), sa.ForeignKey(ACCOUNT, ondelete="SET NULL"), nullable=True
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("permalinks") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_index("ix_login_sessions_account_id")
        batch.drop_constraint("fk_login_sessions_account_id", type_="foreignkey")
        batch.drop_column("last_seen")
        batch.drop_column("account_id")
    op.drop_table("invitations")
    op.drop_index("ix_api_tokens_account_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_identities_account_id", table_name="identities")
    op.drop_index("ux_identities_provider_subject", table_name="identities")
    op.drop_table("identities")
    op.drop_table("accounts")
