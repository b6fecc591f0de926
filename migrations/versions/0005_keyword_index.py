"""The keyword index: an FTS5 table (trigram tokenizer) over each unit's text and its file's
name, filled from the units already indexed (see searchengine/store/keywords.py). The index
on media_files.content_hash goes: no query uses it, and it cost about as much as the keyword
index adds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging

from alembic import op

log = logging.getLogger(__name__)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_media_files_content_hash", table_name="media_files")
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE VIRTUAL TABLE units_fts USING fts5(text, name, tokenize='trigram')")
    # a path's last component, in SQL: strip the trailing run of characters that are not '/'
    op.execute(
        "INSERT INTO units_fts (rowid, text, name) "
        "SELECT u.id, coalesce(u.text, ''), "
        "CASE WHEN typeof(m.path) = 'text' THEN replace(m.path, rtrim(m.path, replace(m.path, '/', '')), '') "
        "ELSE '' END "
        "FROM units u JOIN media_files m ON m.id = u.file_id"
    )


def _upgrade_postgresql() -> None:
    op.execute("CREATE TABLE units_fts (rowid BIGINT PRIMARY KEY, text TEXT NOT NULL, name TEXT NOT NULL)")
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            bind.exec_driver_sql("CREATE INDEX ix_units_fts_text_trgm ON units_fts USING gin (text gin_trgm_ops)")
            bind.exec_driver_sql("CREATE INDEX ix_units_fts_name_trgm ON units_fts USING gin (name gin_trgm_ops)")
    except Exception as exc:  # noqa: BLE001 - keyword search still works, by a scan
        log.warning("no pg_trgm in this PostgreSQL (%s); keyword search will scan the keyword table", exc)
    op.execute(
        "INSERT INTO units_fts (rowid, text, name) "
        "SELECT u.id, coalesce(u.text, ''), regexp_replace(m.path, '^.*/', '') "
        "FROM units u JOIN media_files m ON m.id = u.file_id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name in ("sqlite", "postgresql"):
        op.execute("DROP TABLE units_fts")
    op.create_index("ix_media_files_content_hash", "media_files", ["content_hash"])
