"""When, where and with what a photo was taken (a video: when): ``taken_ns`` (UTC ns; EXIF
DateTimeOriginal with its offset, a video's creation time), ``latitude``/``longitude``,
``place`` (the nearest town, region and country in English and Chinese), ``camera`` (make
and model); ``facts`` says they were read (files indexed before this revision read them
once, without re-embedding).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_files") as batch:
        batch.add_column(sa.Column("taken_ns", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("place", sa.Text(), nullable=True))
        batch.add_column(sa.Column("camera", sa.String(200), nullable=True))
        batch.add_column(sa.Column("facts", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_media_files_taken_ns", "media_files", ["taken_ns"])


def downgrade() -> None:
    op.drop_index("ix_media_files_taken_ns", table_name="media_files")
    with op.batch_alter_table("media_files") as batch:
        for column in ("facts", "camera", "place", "longitude", "latitude", "taken_ns"):
            batch.drop_column(column)
