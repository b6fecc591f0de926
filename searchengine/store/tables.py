"""What every part of the store shares: the database engine (and the write-locking one), the
shard a repository reads, the key/value facts (``index_state``), the keyword index's upkeep
and the id-assigning bulk insert."""

from __future__ import annotations

from typing import Any, Sequence, cast

from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy import text as text_sql
from sqlalchemy.orm import Session

from searchengine.store import keywords
from searchengine.store.database import writer
from searchengine.store.models import IndexState, MediaFile, Unit


class Tables:
    """``shard`` = (s, S): the units read are those with ``id % S == s`` (a shard of a server
    database, read-only: see :mod:`searchengine.catalog.shards`); None: all."""

    def __init__(self, engine: Engine, shard: tuple[int, int] | None = None):
        self.engine = engine
        self.shard = shard
        self._in_shard = (Unit.id % shard[1] == shard[0]) if shard else None
        self._writer = writer(engine)  # write transactions take the lock at BEGIN
        self.on_server = engine.dialect.name != "sqlite"
        # reads that must see one snapshot: SQLite's transactions do; PostgreSQL's default
        # (READ COMMITTED) takes a new snapshot per statement
        self._snapshot = engine.execution_options(isolation_level="REPEATABLE READ") if self.on_server else engine
        self._source_id: str | None = None

    def close(self) -> None:
        """Release the database's connections."""
        self.engine.dispose()

    @property
    def has_keywords(self) -> bool:
        """The keyword index exists: SQLite's FTS5, or PostgreSQL's trigram table (see
        :mod:`searchengine.store.keywords`)."""
        return self.engine.dialect.name in ("sqlite", "postgresql")

    def write_session(self) -> Session:
        """A session whose transaction takes SQLite's write lock at BEGIN."""
        return Session(self._writer)

    def _units(self, *columns: Any) -> Any:
        """``SELECT columns FROM units``, within this repository's shard."""
        query = select(*columns)
        return query.where(self._in_shard) if self._in_shard is not None else query

    def state(self, key: str) -> str | None:
        """A value of the index's key/value facts (``index_state``)."""
        with self.engine.connect() as c:
            value = c.execute(select(IndexState.value).where(IndexState.key == key)).scalar()
        return None if value is None else str(value)

    def set_state(self, key: str, value: str) -> None:
        with Session(self._writer) as s, s.begin():
            row = s.get(IndexState, key, with_for_update=True)
            if row is None:
                s.add(IndexState(key=key, value=value))
            elif row.value != value:
                row.value = value

    def _keywords_changed(self, s: Session, removed: Sequence[int], added: Sequence[tuple[int, str | None, str]]) -> None:
        if self.has_keywords:
            conn = s.connection()
            keywords.remove(conn, removed)
            keywords.add(conn, added)

    def _insert(self, s: Session, model: type[MediaFile] | type[Unit], rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in one executemany and return their new ids, in order. On SQLite
        the ids are assigned here, after the highest ever used (the caller holds the write
        lock; AUTOINCREMENT's counter follows explicit ids): SQLite cannot return ids in
        parameter order from a multi-row INSERT, which would cost one statement a row."""
        table = cast(Table, model.__table__)
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            # ids drawn from the table's sequence, then one executemany (psycopg pipelines it):
            # 4.5x faster than a multi-row INSERT ... RETURNING, whose long SQL psycopg parses
            # anew each time. Writers hold the advisory lock, so ids grow in commit order.
            conn = s.connection()
            ids = sorted(int(i) for i in conn.execute(
                text_sql("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)}).scalars())
            conn.execute(table.insert(), [dict(r, id=i) for r, i in zip(rows, ids)])
            return ids
        if dialect != "sqlite":
            return [int(i) for i in s.scalars(
                insert(model).returning(model.id, sort_by_parameter_order=True), rows)]
        conn = s.connection()
        top = int(conn.execute(select(func.max(table.c.id))).scalar() or 0)
        if table.name == Unit.__tablename__:  # never reuse the id of a deleted unit
            seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)).scalar()
            top = max(top, int(seq or 0))
        ids = list(range(top + 1, top + 1 + len(rows)))
        conn.execute(table.insert(), [dict(r, id=i) for r, i in zip(rows, ids)])
        return ids
