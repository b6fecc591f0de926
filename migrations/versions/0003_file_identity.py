"""Device and inode of each indexed file, so that the server serves a file only while it is
still the one that was indexed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_files") as batch:
        batch.add_column(sa.Column("device", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("inode", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_files") as batch:
        batch.drop_column("inode")
        batch.drop_column("device")
