"""Units (what is embedded and searched: a photo, a passage, a window of speech, a box of
text in a picture) and their vectors: counts, reads by id and by kind, keyword search, the
text units of a picture, and the per-modality stats."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator, Sequence

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import Session

from searchengine.store import keywords
from searchengine.store.models import IndexState, MediaFile, Transcript, Unit
from searchengine.store.records import (GENERATION_KEY, SQL_BATCH, STATS_KEY, FileRecord, NewUnit, UnitRow,
                                        keyword_name, record, scores_from_bytes, scores_matrix, segments_by_unit,
                                        vector_to_bytes)
from searchengine.store.tables import Tables
from searchengine.transcribe.segments import Segment


def vector_batches(s: Session, dim: int, *, after: int = -1, batch: int = 4096, shard: Any = None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    last = after
    while True:
        query = select(Unit.id, Unit.vector).where(Unit.id > last)
        if shard is not None:
            query = query.where(shard)
        rows = s.execute(query.order_by(Unit.id).limit(batch)).all()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
        last = int(ids[-1])
        yield ids, vecs.astype(np.float32)


class UnitStore(Tables):
    """Reads of units and vectors; the text units of a picture (inside the catalog's
    transaction, like every write that changes units)."""

    def unit_count(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(self._units(func.count(Unit.id))) or 0)

    def sample_vectors(self, n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` vectors drawn at random (without replacement), read by id."""
        with Session(self.engine) as s:
            all_ids = np.fromiter(s.scalars(self._units(Unit.id).order_by(Unit.id)), dtype=np.int64)
        if len(all_ids) == 0:
            return all_ids, np.zeros((0, dim), dtype=np.float32)
        chosen = np.sort(np.random.default_rng(seed).choice(all_ids, size=min(n, len(all_ids)), replace=False))
        found = self.vectors_of(chosen.tolist(), dim)
        ids = np.asarray([i for i in chosen.tolist() if i in found], dtype=np.int64)
        vecs = np.stack([found[i] for i in ids.tolist()]) if len(ids) else np.zeros((0, dim), np.float32)
        return ids, vecs

    def unit_ids_by_kind(self) -> dict[str, np.ndarray]:
        """Every unit id, by kind (``image``, ``chunk``, ``window``, ``ocr``, ...), sorted."""
        with Session(self.engine) as s:
            rows = s.execute(self._units(Unit.id, Unit.kind).order_by(Unit.id)).all()
        by_kind: dict[str, list[int]] = {}
        for unit_id, kind in rows:
            by_kind.setdefault(kind or "image", []).append(int(unit_id))
        return {kind: np.asarray(ids, dtype=np.int64) for kind, ids in by_kind.items()}

    def file_ids_of(self, unit_ids: Sequence[int]) -> dict[int, int]:
        """The file id of each unit."""
        out: dict[int, int] = {}
        ids = list(unit_ids)
        with self.engine.connect() as s:
            for i in range(0, len(ids), SQL_BATCH):
                out.update((int(a), int(b)) for a, b in s.execute(
                    select(Unit.id, Unit.file_id).where(Unit.id.in_(ids[i:i + SQL_BATCH]))).all())
        return out

    def iter_vectors(self, dim: int, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) in id order, ``batch`` rows at a time."""
        with Session(self.engine) as s:
            yield from vector_batches(s, dim, batch=batch, shard=self._in_shard)

    def vectors_of(self, unit_ids: Sequence[int], dim: int) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        ids = list(unit_ids)
        with self.engine.connect() as s:
            for i in range(0, len(ids), SQL_BATCH):
                rows = s.execute(select(Unit.id, Unit.vector).where(Unit.id.in_(ids[i:i + SQL_BATCH]))).all()
                for r in rows:
                    out[r[0]] = np.frombuffer(r[1], dtype="<f4").reshape(dim).astype(np.float32)
        return out

    def units(self, unit_ids: Sequence[int]) -> dict[int, UnitRow]:
        if not unit_ids:
            return {}
        ids, out = list(unit_ids), {}
        with self.engine.connect() as s:
            for i in range(0, len(ids), SQL_BATCH):
                rows = s.execute(
                    select(Unit.id, Unit.file_id, MediaFile.path, MediaFile.modality, Unit.start, Unit.end,
                           Unit.text, Unit.kind, Unit.box, Unit.page, MediaFile.mtime_ns, MediaFile.size, MediaFile.content_hash,
                           MediaFile.device, MediaFile.inode, MediaFile.taken_ns, MediaFile.place, MediaFile.camera)
                    .join(MediaFile, MediaFile.id == Unit.file_id)
                    .where(Unit.id.in_(ids[i:i + SQL_BATCH]))
                ).all()
                out.update({r[0]: UnitRow(**r._asdict()) for r in rows})
        return out

    def units_of_file(self, file_id: int, limit: int = 10_000) -> list[UnitRow]:
        """The units of one file, in order (a text's chunks, an image and its text boxes)."""
        with self.engine.connect() as s:
            rows = s.execute(
                select(Unit.id, Unit.file_id, MediaFile.path, MediaFile.modality, Unit.start, Unit.end,
                       Unit.text, Unit.kind, Unit.box, Unit.page, MediaFile.mtime_ns, MediaFile.size,
                       MediaFile.content_hash, MediaFile.device, MediaFile.inode)
                .join(MediaFile, MediaFile.id == Unit.file_id)
                .where(Unit.file_id == file_id)
                .order_by(Unit.start, Unit.id)
                .limit(limit)
            ).all()
        return [UnitRow(**r._asdict()) for r in rows]

    def chunks_around(self, file_id: int, page: int | None, lo: float, hi: float,
                      limit: int = 200) -> list[UnitRow]:
        """A text's chunks (of one ``page`` of a document, where it has pages) that reach into
        the character range ``[lo, hi)``, in order: a passage's surroundings."""
        with self.engine.connect() as s:
            rows = s.execute(
                select(Unit.id, Unit.file_id, MediaFile.path, MediaFile.modality, Unit.start, Unit.end,
                       Unit.text, Unit.kind, Unit.box, Unit.page)
                .join(MediaFile, MediaFile.id == Unit.file_id)
                .where(Unit.file_id == file_id, Unit.kind == "chunk",
                       Unit.page.is_(None) if page is None else Unit.page == page,
                       Unit.end > lo, Unit.start < hi)
                .order_by(Unit.start, Unit.id)
                .limit(limit)
            ).all()
        return [UnitRow(**r._asdict()) for r in rows]

    def file_units(self, file_id: int, dim: int) -> list[NewUnit]:
        """A file's units as they are stored (vectors included), in order: to write them
        again without embedding anything."""
        with Session(self.engine) as s:
            rows = s.scalars(select(Unit).where(Unit.file_id == file_id).order_by(Unit.ordinal))
            return [NewUnit(u.start, u.end, u.text, np.frombuffer(u.vector, dtype="<f4").reshape(dim).astype(np.float32),
                            kind=u.kind, box=tuple(json.loads(u.box)) if u.box else None, page=u.page,  # type: ignore[arg-type]
                            scores=scores_from_bytes(u.scores) if u.scores is not None else None)
                    for u in rows]

    def sound_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, (n, 521) float32 class scores) of the sound units that hold their class
        scores (revision 0009 on), in id order; and :meth:`sound_units_without_scores` counts the others."""
        with self.engine.connect() as c:
            rows = c.execute(self._units(Unit.id, Unit.scores)
                             .where(Unit.kind == "sound", Unit.scores.is_not(None)).order_by(Unit.id)).all()
        return scores_matrix(rows)

    def files_with_unscored_sounds(self) -> list[FileRecord]:
        """Indexed files holding sound units made before class scores were kept (revision
        0009): :func:`searchengine.pipeline.sound_scores.fill_sound_scores` makes them again."""
        with Session(self.engine) as s:
            ids = select(Unit.file_id).where(Unit.kind == "sound", Unit.scores.is_(None)).distinct()
            return [record(row) for row in s.scalars(
                select(MediaFile).where(MediaFile.status == "indexed", MediaFile.id.in_(ids)).order_by(MediaFile.id))]

    def sound_units_without_scores(self) -> int:
        """Sound units indexed before class scores were kept (they rank by their vector alone)."""
        with self.engine.connect() as c:
            return int(c.execute(self._units(func.count(Unit.id))
                                 .where(Unit.kind == "sound", Unit.scores.is_(None))).scalar() or 0)

    def unit_ids_where(self, conditions: Sequence[Any], limit: int) -> np.ndarray | None:
        """Ids of the units whose file meets every SQL condition, or None when more than
        ``limit`` do (the filter is not selective: it is applied to FAISS's candidates)."""
        with self.engine.connect() as c:
            result = c.execute(
                select(Unit.id).join(MediaFile, MediaFile.id == Unit.file_id).where(*conditions).limit(limit + 1)
            )
            rows = result.cursor.fetchall() if result.cursor is not None else []  # ints: no row objects
        if len(rows) > limit:
            return None
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def keyword_search(self, query: keywords.KeywordQuery, limit: int,
                       conditions: Sequence[Any] = ()) -> list[tuple[int, float]]:
        """(unit id, BM25 relevance) of the units matching ``query`` (and, when given, whose
        file meets the SQL ``conditions``), best first."""
        if not self.has_keywords or not query:
            return []
        allowed = ""
        with self.engine.connect() as c:
            if self.on_server:
                within = [*conditions, *([self._in_shard] if self._in_shard is not None else [])]
                sub = (select(Unit.id).join(MediaFile, MediaFile.id == Unit.file_id).where(*within)
                       if within else None)
                return keywords.search_server(c, query, limit, sub)
            if conditions:
                sub = select(Unit.id).join(MediaFile, MediaFile.id == Unit.file_id).where(*conditions)
                try:
                    allowed = f"rowid IN ({sub.compile(c, compile_kwargs={'literal_binds': True})})"
                    if "\x00" in allowed:
                        raise CompileError("a NUL character")
                except (CompileError, UnicodeError):
                    allowed = ""
                    # a value SQL cannot spell (undecodable bytes): the caller's exact test
                    # of each hit still applies the filter; look deeper instead
                    limit *= 20
            return keywords.search(c, query, limit, allowed)

    def segments_of_units(self, unit_ids: Sequence[int]) -> dict[int, list[Segment]]:
        """Transcript segments of the recordings that audio units belong to, in one query;
        a transcript shared by several units is parsed once."""
        if not unit_ids:
            return {}
        with Session(self.engine) as s:
            rows = s.execute(
                select(Unit.id, Transcript.id, Transcript.segments)
                .join(MediaFile, MediaFile.id == Unit.file_id)
                .join(Transcript, Transcript.content_hash == MediaFile.content_hash)
                .where(Unit.id.in_(list(unit_ids)))
                .order_by(Transcript.id)  # the newest transcript of a recording wins below
            ).all()
        return segments_by_unit(rows)

    def ocr_texts(self) -> dict[tuple[str, str], list[str]]:
        """``(path, content hash) -> [text, ...]`` of the text units read in pictures, in unit
        order, for every indexed file that has any."""
        out: dict[tuple[str, str], list[str]] = {}
        with Session(self.engine) as s:
            rows = s.execute(select(MediaFile.path, MediaFile.content_hash, Unit.text)
                             .join(Unit, Unit.file_id == MediaFile.id)
                             .where(Unit.kind == "ocr").order_by(Unit.id))
            for path, content_hash, text in rows:
                out.setdefault((path, content_hash), []).append(text or "")
        return out

    def stats(self) -> dict[str, dict[str, int]]:
        """Per modality: indexed files, failed files, embedded units. Read from the copy a
        writer saved at the end of its run when it is of the current generation (counting
        a million units takes about a second), else counted."""
        with self.engine.connect() as c:
            rows = dict(c.execute(select(IndexState.key, IndexState.value).where(
                IndexState.key.in_([GENERATION_KEY, STATS_KEY]))).all())
        try:
            saved = json.loads(rows.get(STATS_KEY) or "{}")
            if saved.get("generation") == int(rows.get(GENERATION_KEY) or 0):
                return {m: dict(v) for m, v in saved["modalities"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        return self._count_stats()

    def save_stats(self) -> None:
        """Count the stats and keep them with the generation they are of (see :meth:`stats`)."""
        with Session(self._writer) as s, s.begin():
            state = s.get(IndexState, GENERATION_KEY)
            generation = int(state.value) if state else 0
            row = s.get(IndexState, STATS_KEY)
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                if row is not None and json.loads(row.value).get("generation") == generation:
                    return  # already of this generation (a run that changed nothing)
            value = json.dumps({"generation": generation, "modalities": self._count_stats(s)})
            if row is None:
                s.add(IndexState(key=STATS_KEY, value=value))
            else:
                row.value = value

    def _count_stats(self, s: Session | None = None) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}

        def entry(modality: str) -> dict[str, int]:
            return out.setdefault(modality, {"files": 0, "failed": 0, "units": 0})

        with (contextlib.nullcontext(s) if s is not None else Session(self.engine)) as q:
            for modality, count in q.execute(select(MediaFile.modality, func.count()).group_by(MediaFile.modality)):
                entry(modality)["files"] = count  # on the modality index alone
            for modality, count in q.execute(select(MediaFile.modality, func.count())
                                             .where(MediaFile.status != "indexed").group_by(MediaFile.modality)):
                entry(modality)["failed"] = count  # the partial index of failed files
                entry(modality)["files"] -= count
            for modality, count in q.execute(
                select(MediaFile.modality, func.count(Unit.id))
                .join(Unit, Unit.file_id == MediaFile.id)
                .group_by(MediaFile.modality)
            ):
                entry(modality)["units"] = count
        return out

    def replace_text_units(self, s: Session, file_id: int, units: Sequence[NewUnit]) -> tuple[list[int], list[int]]:
        """Give an indexed image the text read in it: its ``ocr`` units are replaced by
        ``units`` (so writing the same reading twice leaves one copy); its other units stay.
        Returns (removed unit ids, new unit ids)."""
        return self.replace_kind_units(s, file_id, "ocr", units)

    def replace_kind_units(self, s: Session, file_id: int, kind: str, units: Sequence[NewUnit]
                           ) -> tuple[list[int], list[int]]:
        """Replace an indexed file's units of ``kind`` by ``units`` (written as that kind);
        its other units stay. Returns (removed unit ids, new unit ids)."""
        row = s.get(MediaFile, file_id)
        if row is None:
            return [], []
        removed = list(s.scalars(select(Unit.id).where(Unit.file_id == file_id, Unit.kind == kind)))
        if removed:
            s.execute(delete(Unit).where(Unit.id.in_(removed)))
        first = int(s.scalar(select(func.max(Unit.ordinal)).where(Unit.file_id == file_id)) or 0) + 1
        rows = [dict(file_id=file_id, ordinal=first + i, start=u.start, end=u.end, text=u.text, kind=kind,
                     box=u.box_json(), vector=vector_to_bytes(u.vector), scores=u.scores_bytes())
                for i, u in enumerate(units)]
        ids = self._insert(s, Unit, rows) if rows else []
        self._keywords_changed(s, removed, [(uid, u.text, keyword_name(row.path)) for uid, u in zip(ids, units)])
        return removed, [int(i) for i in ids]
