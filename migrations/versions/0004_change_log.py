"""The change log a FAISS file catches up from (unit ids removed, by generation); an index
on file modification times for date filters resolved in SQL; the index on status made
partial (only the few failed rows: a million indexed ones need no entry).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "removed_units",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_removed_units_generation", "removed_units", ["generation"])
    op.create_index("ix_media_files_mtime_ns", "media_files", ["mtime_ns"])
    op.drop_index("ix_media_files_status", table_name="media_files")
    op.create_index("ix_media_files_failed", "media_files", ["status"],
                    sqlite_where=sa.text("status != 'indexed'"), postgresql_where=sa.text("status != 'indexed'"))
    # removals before now were never logged: a FAISS file older than this generation is
    # rebuilt, not caught up
    op.execute("INSERT INTO index_state (key, value) SELECT 'change_log_floor', value "
               "FROM index_state WHERE key = 'generation'")


def downgrade() -> None:
    op.execute("DELETE FROM index_state WHERE key = 'change_log_floor'")
    op.drop_index("ix_media_files_failed", table_name="media_files")
    op.create_index("ix_media_files_status", "media_files", ["status"])
    op.drop_index("ix_media_files_mtime_ns", table_name="media_files")
    op.drop_index("ix_removed_units_generation", table_name="removed_units")
    op.drop_table("removed_units")
