"""worker_drains table: the workers an administrator drained, for every hub

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_drains",
        sa.Column("address", sa.String(255), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("worker_drains")
