"""A sound unit's class scores (``scores``): YAMNet's 521 AudioSet class scores of the
event (the best each class reached in it), float16 little-endian, 1,042 bytes; None for
every other kind, and for sound units indexed before this revision (they rank by their
vector alone until their recordings are indexed again: docs/sounds.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("scores", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("scores")
