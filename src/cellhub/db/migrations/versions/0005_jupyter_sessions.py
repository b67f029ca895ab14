"""jupyter_sessions table: Jupyter's /api/sessions (a path and its kernel), per owner

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jupyter_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("type", sa.String(64), nullable=False, server_default=""),
        sa.Column("kernel_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jupyter_sessions_owner", "jupyter_sessions", ["owner"])
    op.create_index("ix_jupyter_sessions_kernel_id", "jupyter_sessions", ["kernel_id"])


def downgrade() -> None:
    op.drop_index("ix_jupyter_sessions_kernel_id", table_name="jupyter_sessions")
    op.drop_index("ix_jupyter_sessions_owner", table_name="jupyter_sessions")
    op.drop_table("jupyter_sessions")
