"""A repository for searching an index folder's SQLite file that imports no SQLAlchemy
until something other than a search's reads is asked of it.

:class:`LazyRepository` answers the reads of a search (see
:mod:`searchengine.store.sqlite_reads`) itself, and hands everything else - writes, keyword
search under filters, filters' SQL, status counts, ``engine`` - to the full
:class:`~searchengine.store.repository.Repository`, opened (schema checked as always) on
first such use. `searchengine search` opens its index this way
(``SearchEngine.open(..., reads_only=True)``).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from searchengine.store.records import Changes, UnitRow
from searchengine.store.sqlite_reads import SqliteReads

if TYPE_CHECKING:
    from searchengine.store import keywords
    from searchengine.store.repository import Repository
    from searchengine.transcribe.segments import Segment


class LazyRepository:
    """Duck-types :class:`Repository` (every attribute it does not define is the full
    repository's)."""

    on_server = False
    shard = None
    has_keywords = True

    def __init__(self, path: Path, reads: SqliteReads):
        self._path = Path(path)
        self._reads = reads
        self._full: Repository | None = None
        self._lock = threading.Lock()

    @property
    def full(self) -> "Repository":
        """The SQLAlchemy repository (opened on first use)."""
        with self._lock:
            if self._full is None:
                from searchengine.store.database import open_database
                from searchengine.store.repository import Repository

                self._full = Repository(open_database(self._path))
            return self._full

    def __getattr__(self, name: str) -> Any:
        if name in ("_path", "_reads", "_full", "_lock") or name.startswith("__"):
            raise AttributeError(name)  # not set yet (copy, pickle): never the full store's
        return getattr(self.full, name)

    def close(self) -> None:
        self._reads.close()
        if self._full is not None:
            self._full.close()

    # -- a search's reads, through sqlite3 -----------------------------------------------

    def source_id(self) -> str | None:
        return None  # the folder's own SQLite file (see Repository.source_id)

    def generation(self) -> int:
        return self._reads.generation()

    def unit_count(self) -> int:
        return self._reads.unit_count()

    @contextmanager
    def changes_since(self, generation: int, top_id: int, dim: int) -> Iterator[Changes | None]:
        with self._reads.changes_since(generation, top_id, dim) as changes:
            yield changes

    def unit_ids_by_kind(self) -> dict[str, np.ndarray]:
        return self._reads.unit_ids_by_kind()

    def units(self, unit_ids: Sequence[int]) -> dict[int, UnitRow]:
        return self._reads.units(unit_ids)

    def vectors_of(self, unit_ids: Sequence[int], dim: int) -> dict[int, np.ndarray]:
        return self._reads.vectors_of(unit_ids, dim)

    def sound_scores(self) -> tuple[np.ndarray, np.ndarray]:
        return self._reads.sound_scores()

    def keyword_search(self, query: "keywords.KeywordQuery", limit: int,
                       conditions: Sequence[Any] = ()) -> list[tuple[int, float]]:
        if conditions:  # filters: their SQL is SQLAlchemy's
            return self.full.keyword_search(query, limit, conditions)
        return self._reads.keyword_search(query, limit)

    def segments_of_units(self, unit_ids: Sequence[int]) -> dict[int, list["Segment"]]:
        return self._reads.segments_of_units(unit_ids)
