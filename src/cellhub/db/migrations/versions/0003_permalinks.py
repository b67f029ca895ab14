"""permalinks table: short ids for shared code, deduplicated by content hash

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "permalinks",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("kernel_name", sa.String(64), nullable=False),
        sa.Column("interact_state", sa.JSON(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_access", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ux_permalinks_content_hash", "permalinks", ["content_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_permalinks_content_hash", table_name="permalinks")
    op.drop_table("permalinks")
