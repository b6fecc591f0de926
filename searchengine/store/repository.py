"""All SQL reads and writes of the engine's metadata. The writes that change units run inside
a transaction the catalog opens (:mod:`searchengine.catalog.catalog`), which records the change -
generation and change log - and mirrors it in FAISS; this module only maps rows."""

from __future__ import annotations

import contextlib
import json
import logging
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Sequence, cast

import numpy as np
from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy import text as text_sql
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import Session

from searchengine.media.pathnames import display_path, is_under
from searchengine.store import keywords
from searchengine.store.database import writer
from searchengine.store.server_database import MANIFEST_KEY, SOURCE_KEY
from searchengine.store.models import ImageText, IndexState, MediaFile, RemovedUnit, Root, Transcript, Unit
from searchengine.store.rows import (  # noqa: F401  (re-exported: the rows' historical home)
    GENERATION_KEY, KIND_OF_MODALITY, LOG_FLOOR_KEY, NO_FACTS, SQL_BATCH, STATS_KEY, Changes, FileFacts,
    FileRecord, FileWrite, NewUnit, StoredFile, UnitRow)
from searchengine.transcribe.segments import Segment

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _record(row: MediaFile) -> FileRecord:
    return FileRecord(
        row.id, row.path, row.modality, row.content_hash, row.size, row.mtime_ns, row.status, row.error,
        row.device, row.inode,
    )


def _vector_batches(s: Session, dim: int, *, after: int = -1, batch: int = 4096, shard: Any = None
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


def _name(path: str) -> str:
    """A file's name for the keyword index (undecodable bytes escaped, as shown to people)."""
    return display_path(keywords.file_name(path))


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class Repository:
    """``shard`` = (s, S): this repository's units are those with ``id % S == s`` (a shard
    of a server database, read-only: see :mod:`searchengine.catalog.shards`); None: all."""

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

    def store_manifest(self, manifest_json: str) -> None:
        with Session(self._writer) as s, s.begin():
            row = s.get(IndexState, MANIFEST_KEY, with_for_update=True)
            if row is None:
                s.add(IndexState(key=MANIFEST_KEY, value=manifest_json))
            elif row.value != manifest_json:
                row.value = manifest_json

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

    def write_session(self) -> Session:
        """A session whose transaction takes SQLite's write lock at BEGIN."""
        return Session(self._writer)

    # -- reads ---------------------------------------------------------------------------

    def generation(self) -> int:
        with self.engine.connect() as c:  # Core, not the ORM: this is on every search's path
            value = c.execute(select(IndexState.value).where(IndexState.key == GENERATION_KEY)).scalar()
            return int(value) if value is not None else 0

    def roots(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.scalars(select(Root.path).order_by(Root.id)))

    def files(self) -> dict[str, FileRecord]:
        columns = (MediaFile.id, MediaFile.path, MediaFile.modality, MediaFile.content_hash, MediaFile.size,
                   MediaFile.mtime_ns, MediaFile.status, MediaFile.error, MediaFile.device, MediaFile.inode)
        with self.engine.connect() as c:  # plain rows, no ORM objects: a watched folder asks often
            return {row[1]: FileRecord(*row) for row in c.execute(select(*columns))}  # type: ignore[call-arg]

    def _units(self, *columns: Any) -> Any:
        """``SELECT columns FROM units``, within this repository's shard."""
        query = select(*columns)
        return query.where(self._in_shard) if self._in_shard is not None else query

    def unit_count(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(self._units(func.count(Unit.id))) or 0)

    def snapshot(self) -> tuple[int, int, int]:
        """(generation, unit count, highest unit id), read in one transaction."""
        with Session(self._snapshot) as s, s.begin():
            state = s.get(IndexState, GENERATION_KEY)
            count, top = s.execute(self._units(func.count(Unit.id), func.max(Unit.id))).one()
            return (int(state.value) if state else 0), int(count or 0), int(top or 0)

    @contextmanager
    def changes_since(self, generation: int, top_id: int, dim: int) -> Iterator["Changes | None"]:
        """What SQL changed after ``generation``, read in one transaction (one snapshot),
        or None when the change log no longer reaches back that far."""
        with Session(self._snapshot) as s, s.begin():
            floor = s.get(IndexState, LOG_FLOOR_KEY)
            if floor is not None and int(floor.value) > generation:
                yield None
                return
            state = s.get(IndexState, GENERATION_KEY)
            current = int(state.value) if state else 0
            count = int(s.scalar(self._units(func.count(Unit.id))) or 0)
            removed = [int(i) for i in s.scalars(
                select(RemovedUnit.unit_id).where(RemovedUnit.generation > generation))]
            if self.shard:
                removed = [i for i in removed if i % self.shard[1] == self.shard[0]]
            yield Changes(current, count, removed, _vector_batches(s, dim, after=top_id, shard=self._in_shard))

    def prune_change_log(self, generation: int) -> None:
        """Forget removals at or before ``generation`` (a saved FAISS file reflects them)."""
        with Session(self._writer) as s, s.begin():
            s.execute(delete(RemovedUnit).where(RemovedUnit.generation <= generation))
            floor = s.get(IndexState, LOG_FLOOR_KEY)
            if floor is None:
                s.add(IndexState(key=LOG_FLOOR_KEY, value=str(generation)))
            elif int(floor.value) < generation:
                floor.value = str(generation)

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
            yield from _vector_batches(s, dim, batch=batch, shard=self._in_shard)

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
                       Unit.text, Unit.kind, Unit.box, MediaFile.mtime_ns, MediaFile.size, MediaFile.content_hash,
                       MediaFile.device, MediaFile.inode)
                .join(MediaFile, MediaFile.id == Unit.file_id)
                .where(Unit.file_id == file_id)
                .order_by(Unit.start, Unit.id)
                .limit(limit)
            ).all()
        return [UnitRow(**r._asdict()) for r in rows]

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

    def files_without_facts(self, modalities: Sequence[str] = ("image", "video")) -> list[FileRecord]:
        """Indexed photos and videos whose date, place and camera were never read (indexed
        before revision 0008)."""
        with Session(self.engine) as s:
            return [_record(row) for row in s.scalars(
                select(MediaFile).where(MediaFile.status == "indexed", MediaFile.facts.is_(False),
                                        MediaFile.modality.in_(list(modalities))).order_by(MediaFile.id))]

    def file_units(self, file_id: int, dim: int) -> list[NewUnit]:
        """A file's units as they are stored (vectors included), in order: to write them
        again without embedding anything."""
        with Session(self.engine) as s:
            rows = s.scalars(select(Unit).where(Unit.file_id == file_id).order_by(Unit.ordinal))
            return [NewUnit(u.start, u.end, u.text, np.frombuffer(u.vector, dtype="<f4").reshape(dim).astype(np.float32),
                            kind=u.kind, box=tuple(json.loads(u.box)) if u.box else None, page=u.page)  # type: ignore[arg-type]
                    for u in rows]

    def failures(self) -> list[FileRecord]:
        with Session(self.engine) as s:
            return [_record(r) for r in s.scalars(select(MediaFile).where(MediaFile.status != "indexed"))]

    def transcript(self, content_hash: str, source: str) -> tuple[list[Segment], str | None] | None:
        """Cached (segments, language) of a recording, or None."""
        with Session(self.engine) as s:
            row = s.scalars(
                select(Transcript).where(Transcript.content_hash == content_hash, Transcript.source == source)
            ).first()
            if row is None:
                return None
            return [Segment(a, b, t) for a, b, t in json.loads(row.segments)], row.language

    def files_where_at_most(self, conditions: Sequence[Any], limit: int) -> bool:
        """Whether at most ``limit`` files meet every condition: counted on the indexes
        alone, stopping at ``limit + 1`` (cheap for a broad filter too)."""
        with self.engine.connect() as c:
            inner = select(MediaFile.id).where(*conditions).limit(limit + 1).subquery()
            return int(c.execute(select(func.count()).select_from(inner)).scalar() or 0) <= limit

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

    def transcript_of_file(self, file_id: int) -> dict | None:
        """The newest transcript of an indexed recording: source, language, text, segments."""
        with Session(self.engine) as s:
            row = s.scalars(
                select(Transcript)
                .join(MediaFile, MediaFile.content_hash == Transcript.content_hash)
                .where(MediaFile.id == file_id)
                .order_by(Transcript.id.desc())
            ).first()
            if row is None:
                return None
            return {"source": row.source, "language": row.language, "duration": row.duration,
                    "text": row.text, "segments": json.loads(row.segments)}

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
        parsed: dict[int, list[Segment]] = {}
        out: dict[int, list[Segment]] = {}
        for unit_id, transcript_id, segments in rows:
            if transcript_id not in parsed:
                parsed[transcript_id] = [Segment(a, b, t) for a, b, t in json.loads(segments)]
            out[unit_id] = parsed[transcript_id]
        return out

    def save_transcript(self, content_hash: str, source: str, segments: list[Segment],
                        language: str | None, duration: float) -> None:
        with Session(self._writer) as s, s.begin():
            s.execute(delete(Transcript).where(Transcript.content_hash == content_hash,
                                               Transcript.source == source))
            s.add(Transcript(
                content_hash=content_hash, source=source, language=language, duration=duration,
                text=" ".join(seg.text for seg in segments),
                segments=json.dumps([[seg.start, seg.end, seg.text] for seg in segments]),
                created_at=_now(),
            ))

    def image_text(self, content_hash: str, source: str) -> list[dict] | None:
        """Cached lines read in an image (``{"text", "box", "score"}`` each; ``[]``: no
        text), or None when this image was never read by ``source``."""
        with Session(self.engine) as s:
            raw = s.scalars(select(ImageText.lines).where(ImageText.content_hash == content_hash,
                                                          ImageText.source == source)).first()
        return None if raw is None else cast(list, json.loads(raw))

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

    def save_image_text(self, content_hash: str, source: str, lines: list[dict]) -> None:
        with Session(self._writer) as s, s.begin():
            s.execute(delete(ImageText).where(ImageText.content_hash == content_hash, ImageText.source == source))
            s.add(ImageText(content_hash=content_hash, source=source,
                            lines=json.dumps(lines, ensure_ascii=False), created_at=_now()))

    def images_without_text(self, source: str) -> list[FileRecord]:
        """Indexed images whose text ``source`` has not read yet (no cache row for their
        content): what the text phase of an indexing run still has to read, in path order."""
        unread = ~select(ImageText.id).where(ImageText.content_hash == MediaFile.content_hash,
                                             ImageText.source == source).exists()
        with Session(self.engine) as s:
            rows = s.scalars(select(MediaFile).where(MediaFile.modality == "image", MediaFile.status == "indexed",
                                                      unread).order_by(MediaFile.path))
            return [_record(row) for row in rows]

    def count_images_without_text(self, source: str) -> int:
        unread = ~select(ImageText.id).where(ImageText.content_hash == MediaFile.content_hash,
                                             ImageText.source == source).exists()
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count(MediaFile.id)).where(
                MediaFile.modality == "image", MediaFile.status == "indexed", unread)) or 0)

    # -- writes that change units: inside the catalog's transaction ``s`` ------------------
    # Each returns the unit ids it removed (and added); the catalog logs and mirrors them.

    def add_roots(self, paths: Iterable[str]) -> None:
        with Session(self._writer) as s, s.begin():
            known = set(s.scalars(select(Root.path)))
            for p in paths:
                if p not in known:
                    s.add(Root(path=p, added_at=_now()))
                    known.add(p)

    def store_files(self, s: Session, writes: Sequence[FileWrite]) -> list[StoredFile]:
        """Insert or replace each file with its units. The whole batch is written with bulk
        statements under one SAVEPOINT; if that fails, each file is written under its own
        (see :meth:`_store_isolated`), so a write that cannot be stored loses no other."""
        if not writes:
            return []
        if len({w.path for w in writes}) == len(writes):
            try:
                with s.begin_nested():
                    return self._store_bulk(s, writes)
            except Exception as exc:  # noqa: BLE001 - retried file by file, below
                log.info("bulk write of %d files failed (%s); writing them one by one", len(writes), exc)
        return self._store_isolated(s, writes)

    def _store_bulk(self, s: Session, writes: Sequence[FileWrite]) -> list[StoredFile]:
        now = _now()
        paths = [w.path for w in writes]
        existing: dict[str, int] = {}
        for i in range(0, len(paths), SQL_BATCH):
            existing.update((p, fid) for p, fid in s.execute(
                select(MediaFile.path, MediaFile.id).where(MediaFile.path.in_(paths[i:i + SQL_BATCH]))))
        removed: dict[int, list[int]] = {}
        old_ids = list(existing.values())
        for i in range(0, len(old_ids), SQL_BATCH):
            chunk = old_ids[i:i + SQL_BATCH]
            for uid, fid in s.execute(select(Unit.id, Unit.file_id).where(Unit.file_id.in_(chunk))):
                removed.setdefault(fid, []).append(uid)
            s.execute(delete(Unit).where(Unit.file_id.in_(chunk)))

        def values(w: FileWrite) -> dict[str, Any]:
            return dict(path=w.path, modality=w.modality, content_hash=w.content_hash, size=w.size,
                        mtime_ns=w.mtime_ns, status=w.status, error=w.error, device=w.device,
                        inode=w.inode, indexed_at=now, **w.fact_columns())

        updates = [dict(values(w), id=existing[w.path]) for w in writes if w.path in existing]
        if updates:
            s.execute(update(MediaFile), updates)
        fresh = [w for w in writes if w.path not in existing]
        if fresh:
            rows = [values(w) for w in fresh]
            new_file_ids = self._insert(s, MediaFile, rows)
            existing.update((w.path, fid) for w, fid in zip(fresh, new_file_ids))
        unit_rows = [
            dict(file_id=existing[w.path], ordinal=i, start=u.start, end=u.end, text=u.text,
                 kind=u.kind_in(w.modality), box=u.box_json(), page=u.page, vector=vector_to_bytes(u.vector))
            for w in writes for i, u in enumerate(w.units)
        ]
        unit_ids = self._insert(s, Unit, unit_rows) if unit_rows else []
        if self.has_keywords:
            conn = s.connection()
            keywords.remove(conn, [u for gone in removed.values() for u in gone])
            keywords.add(conn, [(uid, cast("str | None", row["text"]), _name(w.path)) for uid, row, w in
                                zip(unit_ids, unit_rows, (w for w in writes for _ in w.units))])
        out, at = [], 0
        for w in writes:
            ids = [int(i) for i in unit_ids[at:at + len(w.units)]]
            at += len(w.units)
            out.append(StoredFile(w.path, removed.get(existing[w.path], []), ids))
        return out

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

    def _store_isolated(self, s: Session, writes: Sequence[FileWrite]) -> list[StoredFile]:
        """Each file under its own SAVEPOINT: a write that fails (a constraint, an
        unstorable value) is rolled back alone, replaced where possible by a "failed" row
        that gives the reason, and reported in its :class:`StoredFile`."""
        out: list[StoredFile] = []
        for w in writes:
            try:
                with s.begin_nested():
                    removed, new_ids = self._store_one(s, w)
                out.append(StoredFile(w.path, removed, new_ids))
                continue
            except Exception as exc:  # noqa: BLE001 - reported per file, never lost
                reason = (f"{display_path(w.path)}: could not be stored in the index: "
                          f"{type(exc).__name__}: {exc}")
            log.warning("%s", reason)
            failed = FileWrite(path=w.path, modality=w.modality, content_hash=w.content_hash or "",
                               size=w.size, mtime_ns=w.mtime_ns, units=[], status="failed",
                               error=reason)  # the least that can be stored
            try:
                with s.begin_nested():
                    removed, _ = self._store_one(s, failed)
                out.append(StoredFile(w.path, removed, [], reason, recorded_failed=True))
            except Exception as exc2:  # noqa: BLE001
                log.warning("%s; and no failed row either: %s", reason, exc2)
                out.append(StoredFile(w.path, [], [], reason))
        return out

    def _upsert_file(self, s: Session, path: str, **values: object) -> tuple[MediaFile, list[int]]:
        """The row at ``path`` (created if new) with ``values`` set and its old units
        deleted; returns it and the removed unit ids."""
        row = s.scalars(select(MediaFile).where(MediaFile.path == path)).first()
        removed: list[int] = []
        if row is None:
            row = MediaFile(path=path)
            s.add(row)
        else:
            removed = list(s.scalars(select(Unit.id).where(Unit.file_id == row.id)))
            s.execute(delete(Unit).where(Unit.file_id == row.id))
        for key, value in values.items():
            setattr(row, key, value)
        row.indexed_at = _now()
        s.flush()
        return row, removed

    def _store_one(self, s: Session, w: FileWrite) -> tuple[list[int], list[int]]:
        row, removed = self._upsert_file(
            s, w.path, modality=w.modality, content_hash=w.content_hash, size=w.size,
            mtime_ns=w.mtime_ns, status=w.status, error=w.error, device=w.device, inode=w.inode,
            **w.fact_columns(),
        )
        new_rows = [
            Unit(file_id=row.id, ordinal=i, start=u.start, end=u.end, text=u.text,
                 kind=u.kind_in(w.modality), box=u.box_json(), page=u.page, vector=vector_to_bytes(u.vector))
            for i, u in enumerate(w.units)
        ]
        s.add_all(new_rows)
        s.flush()
        self._keywords_changed(s, removed, [(u.id, u.text, _name(w.path)) for u in new_rows])
        return removed, [u.id for u in new_rows]

    def _keywords_changed(self, s: Session, removed: Sequence[int], added: Sequence[tuple[int, str | None, str]]) -> None:
        if self.has_keywords:
            conn = s.connection()
            keywords.remove(conn, removed)
            keywords.add(conn, added)

    def replace_text_units(self, s: Session, file_id: int, units: Sequence[NewUnit]) -> tuple[list[int], list[int]]:
        """Give an indexed image the text read in it: its ``ocr`` units are replaced by
        ``units`` (so writing the same reading twice leaves one copy); its other units stay.
        Returns (removed unit ids, new unit ids)."""
        row = s.get(MediaFile, file_id)
        if row is None:
            return [], []
        removed = list(s.scalars(select(Unit.id).where(Unit.file_id == file_id, Unit.kind == "ocr")))
        if removed:
            s.execute(delete(Unit).where(Unit.id.in_(removed)))
        first = int(s.scalar(select(func.max(Unit.ordinal)).where(Unit.file_id == file_id)) or 0) + 1
        rows = [dict(file_id=file_id, ordinal=first + i, start=u.start, end=u.end, text=u.text, kind="ocr",
                     box=u.box_json(), vector=vector_to_bytes(u.vector)) for i, u in enumerate(units)]
        ids = self._insert(s, Unit, rows) if rows else []
        self._keywords_changed(s, removed, [(uid, u.text, _name(row.path)) for uid, u in zip(ids, units)])
        return removed, [int(i) for i in ids]

    def copy_file(self, s: Session, source_id: int, *, path: str, size: int, mtime_ns: int,
                  dim: int, device: int | None = None,
                  inode: int | None = None) -> tuple[list[int], list[int], np.ndarray]:
        """Give ``path`` the units of an already indexed file with the same content (no
        re-embedding). Returns (removed unit ids, new unit ids, their vectors)."""
        src = s.get(MediaFile, source_id)
        assert src is not None
        src_units = list(s.scalars(select(Unit).where(Unit.file_id == source_id).order_by(Unit.ordinal)))
        row, removed = self._upsert_file(
            s, path, modality=src.modality, content_hash=src.content_hash, size=size,
            mtime_ns=mtime_ns, status="indexed", error=None, device=device, inode=inode,
            taken_ns=src.taken_ns, latitude=src.latitude, longitude=src.longitude, place=src.place,
            camera=src.camera, facts=src.facts,
        )
        new_rows = [
            Unit(file_id=row.id, ordinal=u.ordinal, start=u.start, end=u.end, text=u.text, kind=u.kind,
                 box=u.box, page=u.page, vector=u.vector)
            for u in src_units
        ]
        s.add_all(new_rows)
        s.flush()
        self._keywords_changed(s, removed, [(u.id, u.text, _name(path)) for u in new_rows])
        vectors = np.frombuffer(b"".join(u.vector for u in src_units), dtype="<f4").reshape(-1, dim)
        return removed, [u.id for u in new_rows], vectors.astype(np.float32)

    def move_file(self, s: Session, file_id: int, *, path: str, size: int, mtime_ns: int,
                  device: int | None = None, inode: int | None = None) -> None:
        """A file found at a new path with the same content keeps its id and units."""
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == file_id)
            .values(path=path, size=size, mtime_ns=mtime_ns, device=device, inode=inode)
        )
        if self.has_keywords:
            units = list(s.scalars(select(Unit.id).where(Unit.file_id == file_id)))
            keywords.rename(s.connection(), units, _name(path))

    def touch_file(self, file_id: int, *, size: int, mtime_ns: int,
                   device: int | None = None, inode: int | None = None) -> None:
        """Same content, new stat (e.g. ``touch``): remember the stat, keep everything (no
        unit changes, so no generation change: its own transaction)."""
        values: dict[str, int | None] = {"size": size, "mtime_ns": mtime_ns}
        if device is not None:
            values.update(device=device, inode=inode)
        with Session(self._writer) as s, s.begin():
            s.execute(update(MediaFile).where(MediaFile.id == file_id).values(**values))

    def forget(self, s: Session, path: str) -> tuple[int, int, list[int]]:
        """Remove the root ``path``, roots under it, and every file under it. Returns
        (roots removed, files removed, unit ids removed)."""
        roots = [r for r in s.scalars(select(Root)) if is_under(r.path, path)]
        file_ids = [fid for fid, p in s.execute(select(MediaFile.id, MediaFile.path)) if is_under(p, path)]
        removed = self._delete_files(s, file_ids)
        for root in roots:
            s.delete(root)
        return len(roots), len(file_ids), removed

    def delete_files(self, s: Session, file_ids: Sequence[int]) -> list[int]:
        """Delete files and their units; returns the removed unit ids."""
        return self._delete_files(s, list(file_ids))

    def _delete_files(self, s: Session, file_ids: list[int]) -> list[int]:
        removed: list[int] = []
        for i in range(0, len(file_ids), SQL_BATCH):
            chunk = file_ids[i:i + SQL_BATCH]
            removed += list(s.scalars(select(Unit.id).where(Unit.file_id.in_(chunk))))
            s.execute(delete(Unit).where(Unit.file_id.in_(chunk)))
            s.execute(delete(MediaFile).where(MediaFile.id.in_(chunk)))
        self._keywords_changed(s, removed, [])
        return removed

    def record_change(self, s: Session, removed: Sequence[int]) -> int:
        """Bump the generation and log the removed unit ids under it; returns the new
        generation. Called by the catalog once per write transaction."""
        state = s.get(IndexState, GENERATION_KEY, with_for_update=True)
        if state is None:
            generation = 1
            s.add(IndexState(key=GENERATION_KEY, value="1"))
        else:
            generation = int(state.value) + 1
            state.value = str(generation)
        if removed:
            s.execute(insert(RemovedUnit), [{"generation": generation, "unit_id": int(u)} for u in removed])
        return generation
