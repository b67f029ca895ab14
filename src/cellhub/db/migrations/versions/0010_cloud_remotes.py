"""cloud_remotes: the cloud folders (Dropbox, Google Drive, S3, WebDAV) users link to their
files, synced through rclone

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cloud_remotes",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False, server_default=""),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("last_sync", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("cloud_remotes")
