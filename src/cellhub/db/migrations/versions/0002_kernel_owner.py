"""kernels.owner: who started the kernel, for per-client limits

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kernels") as batch:
        batch.add_column(sa.Column("owner", sa.String(255), nullable=False, server_default=""))
        batch.create_index("ix_kernels_owner_state", ["owner", "state"])


def downgrade() -> None:
    with op.batch_alter_table("kernels") as batch:
        batch.drop_index("ix_kernels_owner_state")
        batch.drop_column("owner")
