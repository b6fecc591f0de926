"""A search's reads of an index folder's SQLite file, through the sqlite3 module alone.

A cold `searchengine search` spent about a third of its time importing SQLAlchemy and
building the ORM's mappers, for a handful of SELECTs. These are those SELECTs, written as
SQLAlchemy compiles them for :class:`searchengine.store.repository.Repository` (the same
statements, so the same rows in the same order), on plain sqlite3 connections:

- the schema is checked first (:meth:`SqliteReads.open`): a file that is missing, not at
  this version's schema revision (a migration is due) or lacking a table gets ``None``, and
  the caller opens the full store, which migrates or reports the damage as before;
- one connection per thread (an HTTP server's threads may search at once), in autocommit
  mode: every read sees what writers committed; :meth:`changes_since` reads in one
  transaction (one snapshot), as the repository does.

Writes, filters (SQL conditions) and everything else stay with the repository; see
:class:`searchengine.store.lazy_repository.LazyRepository`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from searchengine.store import keywords
from searchengine.store.revisions import head_revision
from searchengine.store.records import (GENERATION_KEY, LOG_FLOOR_KEY, SQL_BATCH, Changes, UnitRow, scores_matrix,
                                        segments_by_unit)

if TYPE_CHECKING:
    from searchengine.transcribe.segments import Segment

CACHE_KIB = 32768  # SQLite's page cache per connection (its default, 2 MiB, is 31 such pages)
BUSY_TIMEOUT_MS = 30000
# the tables of searchengine.store.models (tests/test_sqlite_reads.py checks the list)
TABLES = frozenset({"roots", "media_files", "units", "index_state", "removed_units", "image_texts", "transcripts"})

_UNIT_COLUMNS = ("units.id, units.file_id, media_files.path, media_files.modality, units.start, units.\"end\", "
                 "units.text, units.kind, units.box, units.page, media_files.mtime_ns, media_files.size, "
                 "media_files.content_hash, media_files.device, media_files.inode, media_files.taken_ns, "
                 "media_files.place, media_files.camera")


def _path(value: Any) -> str:
    """A file name as :class:`searchengine.store.models.FsPath` reads it on SQLite: a BLOB
    holds the raw bytes of a name that is not UTF-8."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return os.fsdecode(bytes(value))
    return str(value)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class SqliteReads:
    """The reads a search makes (see the module's doc). Use :meth:`open`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    @classmethod
    def open(cls, path: Path) -> "SqliteReads | None":
        """The reads of the SQLite file ``path``, or None where only the full store will do:
        no such file, a schema revision other than this version's head, a missing table, or
        any error reading those (busy, damaged: the full store waits or says what is wrong)."""
        path = Path(path)
        if not path.is_file():
            return None
        reads = cls(path)
        try:
            conn = reads._conn()
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone() \
                if "alembic_version" in names else None
            if row is None or row[0] != head_revision() or not TABLES <= names:
                reads.close()
                return None
        except sqlite3.Error:
            reads.close()
            return None
        return reads

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit (no implicit BEGIN), like the repository's engine; closed by close()
            # from whichever thread, hence check_same_thread=False (each is used by one thread)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # -- the reads ------------------------------------------------------------------------

    def _state(self, conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM index_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def generation(self) -> int:
        value = self._state(self._conn(), GENERATION_KEY)
        return int(value) if value is not None else 0

    def unit_count(self) -> int:
        row = self._conn().execute("SELECT count(units.id) FROM units").fetchone()
        return int(row[0] or 0)

    @contextmanager
    def changes_since(self, generation: int, top_id: int, dim: int) -> Iterator[Changes | None]:
        """:meth:`Repository.changes_since`: read in one transaction."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            floor = self._state(conn, LOG_FLOOR_KEY)
            if floor is not None and int(floor) > generation:
                yield None
                return
            state = self._state(conn, GENERATION_KEY)
            current = int(state) if state is not None else 0
            count = int(conn.execute("SELECT count(units.id) FROM units").fetchone()[0] or 0)
            removed = [int(r[0]) for r in conn.execute(
                "SELECT removed_units.unit_id FROM removed_units WHERE removed_units.generation > ?", (generation,))]
            yield Changes(current, count, removed, self._vector_batches(conn, dim, after=top_id))
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    @staticmethod
    def _vector_batches(conn: sqlite3.Connection, dim: int, *, after: int, batch: int = 4096
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last = after
        while True:
            rows = conn.execute("SELECT units.id, units.vector FROM units WHERE units.id > ? ORDER BY units.id "
                                "LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
            last = int(ids[-1])
            yield ids, vecs.astype(np.float32)

    def unit_ids_by_kind(self) -> dict[str, np.ndarray]:
        rows = self._conn().execute("SELECT units.id, units.kind FROM units ORDER BY units.id").fetchall()
        by_kind: dict[str, list[int]] = {}
        for unit_id, kind in rows:
            by_kind.setdefault(kind or "image", []).append(int(unit_id))
        return {kind: np.asarray(ids, dtype=np.int64) for kind, ids in by_kind.items()}

    def units(self, unit_ids: Sequence[int]) -> dict[int, UnitRow]:
        if not unit_ids:
            return {}
        ids, out = list(unit_ids), {}
        conn = self._conn()
        for i in range(0, len(ids), SQL_BATCH):
            chunk = ids[i:i + SQL_BATCH]
            rows = conn.execute(f"SELECT {_UNIT_COLUMNS} FROM units JOIN media_files ON media_files.id = "
                                f"units.file_id WHERE units.id IN ({_marks(len(chunk))})", chunk).fetchall()
            for r in rows:
                out[r[0]] = UnitRow(r[0], r[1], _path(r[2]), *r[3:])
        return out

    def vectors_of(self, unit_ids: Sequence[int], dim: int) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        ids = list(unit_ids)
        conn = self._conn()
        for i in range(0, len(ids), SQL_BATCH):
            chunk = ids[i:i + SQL_BATCH]
            for r in conn.execute(f"SELECT units.id, units.vector FROM units WHERE units.id IN ({_marks(len(chunk))})",
                                  chunk):
                out[r[0]] = np.frombuffer(r[1], dtype="<f4").reshape(dim).astype(np.float32)
        return out

    def sound_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Repository.sound_scores`."""
        rows = self._conn().execute("SELECT units.id, units.scores FROM units WHERE units.kind = 'sound' "
                                    "AND units.scores IS NOT NULL ORDER BY units.id").fetchall()
        return scores_matrix(rows)

    def keyword_search(self, query: keywords.KeywordQuery, limit: int) -> list[tuple[int, float]]:
        """:meth:`Repository.keyword_search` without filters."""
        statement = keywords.fts_query(query, limit)
        if statement is None:
            return []
        return keywords.relevances(self._conn().execute(*statement).fetchall())

    def segments_of_units(self, unit_ids: Sequence[int]) -> dict[int, list[Segment]]:
        """:meth:`Repository.segments_of_units`."""
        if not unit_ids:
            return {}
        ids = list(unit_ids)
        rows = self._conn().execute(
            "SELECT units.id, transcripts.id, transcripts.segments FROM units JOIN media_files ON media_files.id = "
            "units.file_id JOIN transcripts ON transcripts.content_hash = media_files.content_hash "
            f"WHERE units.id IN ({_marks(len(ids))}) ORDER BY transcripts.id", ids).fetchall()
        return segments_by_unit(rows)
