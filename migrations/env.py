"""Alembic environment. The engine passes an open connection in
``config.attributes["connection"]``; the alembic CLI passes ``-x url=...``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from searchengine.store.models import Base

config = context.config
target_metadata = Base.metadata


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    """The FTS5 keyword index (a virtual table and its shadow tables) is made by raw SQL in
    its migration, not by the models: autogenerate leaves it alone."""
    return not (type_ == "table" and name and name.startswith("units_fts"))


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_ours,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path/to/metadata.sqlite ...")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    url = context.get_x_argument(as_dictionary=True).get("url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
