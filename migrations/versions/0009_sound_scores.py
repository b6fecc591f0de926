"""A sound unit's class scores (``scores``): YAMNet's 521 AudioSet class scores of the
event (the best each class reached in it), float16 little-endian, 1,042 bytes; None for
every other kind, and for sound units indexed before this revision: where the index holds
any, the key ``sound_scores_pending`` in ``index_state`` marks it, and the next index run
finds those recordings' events again with their scores and clears it
(searchengine.pipeline.sound_scores; until then they rank by their vector alone).

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


PENDING = "sound_scores_pending"


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("scores", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM units WHERE kind = 'sound' LIMIT 1")).first() is not None:
        bind.execute(sa.text("INSERT INTO index_state (key, value) VALUES (:key, '1')"), {"key": PENDING})


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM index_state WHERE key = :key"), {"key": PENDING})
    with op.batch_alter_table("units") as batch:
        batch.drop_column("scores")
