"""Where the schema's migrations are and which revision is the newest, without importing
SQLAlchemy or Alembic (a search checks an index's revision through the sqlite3 module)."""

from __future__ import annotations

import functools
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def migrations_dir() -> Path:
    if (MIGRATIONS_DIR / "env.py").is_file():
        return MIGRATIONS_DIR
    from importlib.resources import files  # installed (non-editable): packaged copy

    return Path(str(files("searchengine._migrations")))


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest schema revision, read from the migration files' names (``NNNN_*.py``, one
    linear chain) without importing Alembic: opening an index at head costs no Alembic
    import. tests/test_migrations.py checks it against Alembic's own answer."""
    versions = migrations_dir() / "versions"
    numbers = [p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py")]
    if numbers:
        return max(numbers)
    from searchengine.store.database import alembic_head_revision  # pragma: no cover - named otherwise

    return alembic_head_revision()  # pragma: no cover
