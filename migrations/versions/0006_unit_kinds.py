"""What a unit is (``kind``: a whole image, a text chunk, a transcript window, text read in
an image, a video frame) and where in the picture it is (``box``, JSON, for text read in an
image); the cache of text read in images, by content hash (a moved or copied image is never
read again), like transcripts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="image"))
        batch.add_column(sa.Column("box", sa.Text(), nullable=True))
    # the units before this revision: one kind per modality
    op.execute("UPDATE units SET kind = CASE (SELECT modality FROM media_files m WHERE m.id = units.file_id) "
               "WHEN 'text' THEN 'chunk' WHEN 'audio' THEN 'window' ELSE 'image' END")
    op.create_table(
        "image_texts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("content_hash", "source", name="uq_image_texts_hash_source"),
    )
    op.create_index("ix_image_texts_content_hash", "image_texts", ["content_hash"])


def downgrade() -> None:
    op.drop_index("ix_image_texts_content_hash", table_name="image_texts")
    op.drop_table("image_texts")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("box")
        batch.drop_column("kind")
