"""All SQL reads and writes of the engine's metadata, in one object made of its parts:
files (:mod:`~searchengine.store.files`), units and their vectors
(:mod:`~searchengine.store.units`), the change log (:mod:`~searchengine.store.change_log`) and
the decoders' caches (:mod:`~searchengine.store.caches`), on what they share
(:mod:`~searchengine.store.tables`). The writes that change units run inside a transaction the
catalog opens (:mod:`searchengine.catalog.catalog`), which records the change - generation and
change log - and mirrors it in FAISS; this package only maps rows."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from searchengine.store.caches import DecodeCache, SqlCaches, TranscriptEntry
from searchengine.store.change_log import ChangeLog
from searchengine.store.files import FileStore
from searchengine.store.models import IndexState
from searchengine.store.records import (GENERATION_KEY, LOG_FLOOR_KEY, NO_FACTS, SQL_BATCH, STATS_KEY, Changes,
                                        FileFacts, FileRecord, FileWrite, NewUnit, StoredFile, UnitRow,
                                        vector_to_bytes)
from searchengine.store.server_database import MANIFEST_KEY, SOURCE_KEY

SOUND_SCORES_KEY = "sound_scores_pending"  # written by migration 0009 (the same literal)
from searchengine.store.units import UnitStore

__all__ = ["Repository", "DecodeCache", "TranscriptEntry", "Changes", "FileFacts", "FileRecord", "FileWrite",
           "NewUnit", "StoredFile", "UnitRow", "NO_FACTS", "SQL_BATCH", "GENERATION_KEY", "STATS_KEY",
           "LOG_FLOOR_KEY", "vector_to_bytes"]


class Repository(FileStore, UnitStore, ChangeLog, SqlCaches):
    """The index's metadata. ``shard`` = (s, S): this repository's units are those with
    ``id % S == s`` (a shard of a server database, read-only: see
    :mod:`searchengine.catalog.shards`); None: all."""

    def source_id(self) -> str | None:
        """The identity of a server database (written into FAISS stamps, so that a file built
        from another database is never caught up); None for the folder's SQLite file."""
        if self.on_server and self._source_id is None:
            with self.engine.connect() as c:
                value = c.execute(select(IndexState.value).where(IndexState.key == SOURCE_KEY)).scalar()
            self._source_id = str(value) if value is not None else None
            if self._source_id and self.shard:  # a shard's FAISS file serves that shard only
                self._source_id += f"/shard-{self.shard[0]}-of-{self.shard[1]}"
        return self._source_id

    def stored_manifest(self) -> str | None:
        """The manifest kept in a server database (JSON), for a folder that has none."""
        with self.engine.connect() as c:
            value = c.execute(select(IndexState.value).where(IndexState.key == MANIFEST_KEY)).scalar()
        return str(value) if value is not None else None

    def sound_scores_pending(self) -> bool:
        """Whether sound units made before revision 0009 may still lack their class scores:
        marked by that migration where the index held sound units, cleared by
        :func:`searchengine.pipeline.sound_scores.fill_sound_scores` once none lack them (an
        index without the mark is never scanned for them)."""
        with self.engine.connect() as c:
            return c.execute(select(IndexState.key).where(IndexState.key == SOUND_SCORES_KEY)).first() is not None

    def sound_scores_filled(self) -> None:
        """Clear the mark of :meth:`sound_scores_pending`."""
        with Session(self._writer) as s, s.begin():
            s.execute(delete(IndexState).where(IndexState.key == SOUND_SCORES_KEY))

    def store_manifest(self, manifest_json: str) -> None:
        with Session(self._writer) as s, s.begin():
            row = s.get(IndexState, MANIFEST_KEY, with_for_update=True)
            if row is None:
                s.add(IndexState(key=MANIFEST_KEY, value=manifest_json))
            elif row.value != manifest_json:
                row.value = manifest_json
