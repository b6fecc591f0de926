"""Checking an index on disk from its files alone (no engine): do the SQLite metadata and
the saved FAISS file agree? Used by the kill-loop test and benchmark, and by anyone who
wants to know after a crash."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from searchengine.catalog.layout import IndexLayout
from searchengine.vectors.faiss_index import ids_of


@dataclass(frozen=True)
class DiskState:
    sql_ids: frozenset[int]
    generation: int
    faiss_ids: frozenset[int] | None  # None: no FAISS file (or no stamp) yet
    faiss_generation: int | None

    @property
    def faiss_current(self) -> bool:
        """The FAISS file claims to reflect SQL's latest generation."""
        return self.faiss_generation == self.generation

    @property
    def consistent(self) -> bool:
        """A FAISS file that claims to be current holds exactly SQL's ids; one that does
        not is rebuilt from SQL on open, which is consistent by construction."""
        return not self.faiss_current or self.faiss_ids == self.sql_ids


def read_disk_state(folder: Path) -> DiskState:
    layout = IndexLayout(Path(folder))
    with closing(sqlite3.connect(f"file:{layout.database}?mode=ro", uri=True, timeout=30)) as conn:
        ids = frozenset(int(r[0]) for r in conn.execute("SELECT id FROM units"))
        row = conn.execute("SELECT value FROM index_state WHERE key = 'generation'").fetchone()
    generation = int(row[0]) if row else 0
    stamp_path = layout.vectors.with_name(layout.vectors.name + ".stamp.json")
    if not layout.vectors.is_file() or not stamp_path.is_file():
        return DiskState(ids, generation, None, None)
    import faiss

    stamp = json.loads(stamp_path.read_text())
    index = faiss.read_index(str(layout.vectors))
    faiss_ids = frozenset(int(i) for i in ids_of(index))
    return DiskState(ids, generation, faiss_ids, int(stamp.get("generation", -1)))
