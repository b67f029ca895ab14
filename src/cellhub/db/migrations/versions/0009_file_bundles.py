"""file_bundles and file_upload_chunks: users' files as chains of git bundles, per owner

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_bundles",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("base", sa.String(64), nullable=False, server_default=""),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("files_size", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "file_upload_chunks",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("file_upload_chunks")
    op.drop_table("file_bundles")
