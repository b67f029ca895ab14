"""login_sessions table: browsers logged in by cookie, keyed by a hash of the cookie

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_sessions_expires", "login_sessions", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_login_sessions_expires", table_name="login_sessions")
    op.drop_table("login_sessions")
