"""Opening the SQLite metadata file: pragmas, migrations on open, schema version check."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text

from searchengine.errors import IndexDamagedError, IndexIncompatibleError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def _migrations_dir() -> Path:
    if (MIGRATIONS_DIR / "env.py").is_file():
        return MIGRATIONS_DIR
    from importlib.resources import files  # installed (non-editable): packaged copy

    return Path(str(files("searchengine._migrations")))


def _alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def open_database(path: Path) -> Engine:
    """Open (creating if needed) the SQLite file at ``path`` and bring its schema to head."""
    engine = create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    try:
        with engine.connect() as conn:
            current = _current_revision(conn)
    except Exception as exc:
        raise IndexDamagedError(
            f"the metadata file {path} cannot be read ({exc}); restore it from a backup or "
            "delete the index folder and index again"
        ) from exc
    _check_known(current, path)
    if current != head_revision():
        from alembic import command

        log.info("upgrading index schema %s -> %s", current or "(new)", head_revision())
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
    _check_tables(engine, path)
    return engine


def _check_tables(engine: Engine, path: Path) -> None:
    from searchengine.store.models import Base

    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    missing = sorted(set(Base.metadata.tables) - present)
    if missing:
        raise IndexDamagedError(
            f"the metadata file {path} lacks the table(s) {', '.join(missing)}; restore it from a "
            "backup or delete the index folder and index again"
        )


def _current_revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def _check_known(revision: str | None, path: Path) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(_alembic_config())
    try:
        known = script.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise IndexIncompatibleError(
            f"the index at {path.parent} was written by a newer version of searchengine "
            f"(schema revision {revision}, this version knows up to {head_revision()}); "
            "upgrade searchengine to open it"
        )
