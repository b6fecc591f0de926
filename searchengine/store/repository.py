"""All SQL reads and writes of the engine. Every write bumps the index generation, which the
FAISS file is checked against on open (see :mod:`searchengine.vectors.faiss_index`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from searchengine.pathnames import display_path, is_under
from searchengine.store.database import writer
from searchengine.store.models import IndexState, MediaFile, Root, Transcript, Unit
from searchengine.transcribe.segments import Segment

log = logging.getLogger(__name__)

GENERATION_KEY = "generation"


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    modality: str
    content_hash: str
    size: int
    mtime_ns: int
    status: str
    error: str | None
    device: int | None = None
    inode: int | None = None


@dataclass(frozen=True)
class NewUnit:
    start: float | None
    end: float | None
    text: str | None
    vector: np.ndarray


@dataclass(frozen=True)
class FileWrite:
    """One file to store: its units, or its failure."""

    path: str
    modality: str
    content_hash: str
    size: int
    mtime_ns: int
    units: Sequence[NewUnit]
    status: str = "indexed"  # or "failed"
    error: str | None = None
    device: int | None = None  # st_dev / st_ino of the file (FoundFile.device / .inode)
    inode: int | None = None


@dataclass(frozen=True)
class StoredFile:
    """What :meth:`Repository.store_files_isolated` did with one :class:`FileWrite`.

    ``error`` is None when the write was stored as given. Otherwise the write could not be
    stored (its SQL was rolled back to a savepoint; the rest of the batch is unaffected) and
    ``error`` says why; ``recorded_failed`` tells whether a "failed" row with that reason
    could be stored in its place (then ``removed`` holds the old unit ids it replaced)."""

    path: str
    removed: list[int]
    new_ids: list[int]
    error: str | None = None
    recorded_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class UnitRow:
    id: int
    file_id: int
    path: str
    modality: str
    start: float | None
    end: float | None
    text: str | None
    mtime_ns: int = 0
    size: int = 0
    content_hash: str = ""
    device: int | None = None
    inode: int | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _record(row: MediaFile) -> FileRecord:
    return FileRecord(
        row.id, row.path, row.modality, row.content_hash, row.size, row.mtime_ns, row.status, row.error,
        row.device, row.inode,
    )


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class Repository:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._writer = writer(engine)  # write transactions take the lock at BEGIN

    # -- reads ---------------------------------------------------------------------------

    def generation(self) -> int:
        with Session(self.engine) as s:
            value = s.get(IndexState, GENERATION_KEY)
            return int(value.value) if value else 0

    def roots(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.scalars(select(Root.path).order_by(Root.id)))

    def files(self) -> dict[str, FileRecord]:
        with Session(self.engine) as s:
            return {row.path: _record(row) for row in s.scalars(select(MediaFile))}

    def unit_count(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count(Unit.id))) or 0)

    def iter_vectors(self, dim: int, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) in id order, ``batch`` rows at a time."""
        last = -1
        with Session(self.engine) as s:
            while True:
                rows = s.execute(
                    select(Unit.id, Unit.vector).where(Unit.id > last).order_by(Unit.id).limit(batch)
                ).all()
                if not rows:
                    return
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
                last = int(ids[-1])
                yield ids, vecs.astype(np.float32)

    def vectors_of(self, unit_ids: Sequence[int], dim: int) -> dict[int, np.ndarray]:
        with Session(self.engine) as s:
            rows = s.execute(select(Unit.id, Unit.vector).where(Unit.id.in_(list(unit_ids)))).all()
        return {r[0]: np.frombuffer(r[1], dtype="<f4").reshape(dim).astype(np.float32) for r in rows}

    def units(self, unit_ids: Sequence[int]) -> dict[int, UnitRow]:
        if not unit_ids:
            return {}
        with Session(self.engine) as s:
            rows = s.execute(
                select(Unit.id, Unit.file_id, MediaFile.path, MediaFile.modality, Unit.start, Unit.end,
                       Unit.text, MediaFile.mtime_ns, MediaFile.size, MediaFile.content_hash,
                       MediaFile.device, MediaFile.inode)
                .join(MediaFile, MediaFile.id == Unit.file_id)
                .where(Unit.id.in_(list(unit_ids)))
            ).all()
        return {r[0]: UnitRow(**r._asdict()) for r in rows}

    def stats(self) -> dict[str, dict[str, int]]:
        """Per modality: indexed files, failed files, embedded units."""
        out: dict[str, dict[str, int]] = {}
        with Session(self.engine) as s:
            for modality, status, count in s.execute(
                select(MediaFile.modality, MediaFile.status, func.count()).group_by(
                    MediaFile.modality, MediaFile.status
                )
            ):
                out.setdefault(modality, {"files": 0, "failed": 0, "units": 0})
                out[modality]["files" if status == "indexed" else "failed"] += count
            for modality, count in s.execute(
                select(MediaFile.modality, func.count(Unit.id))
                .join(Unit, Unit.file_id == MediaFile.id)
                .group_by(MediaFile.modality)
            ):
                out.setdefault(modality, {"files": 0, "failed": 0, "units": 0})["units"] = count
        return out

    def failures(self) -> list[FileRecord]:
        with Session(self.engine) as s:
            return [_record(r) for r in s.scalars(select(MediaFile).where(MediaFile.status == "failed"))]

    def transcript(self, content_hash: str, source: str) -> tuple[list[Segment], str | None] | None:
        """Cached (segments, language) of a recording, or None."""
        with Session(self.engine) as s:
            row = s.scalars(
                select(Transcript).where(Transcript.content_hash == content_hash, Transcript.source == source)
            ).first()
            if row is None:
                return None
            return [Segment(a, b, t) for a, b, t in json.loads(row.segments)], row.language

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

    # -- writes (each one transaction, each bumps the generation) ------------------------

    def _bump(self, s: Session) -> None:
        state = s.get(IndexState, GENERATION_KEY)
        if state is None:
            s.add(IndexState(key=GENERATION_KEY, value="1"))
        else:
            state.value = str(int(state.value) + 1)

    def add_roots(self, paths: Iterable[str]) -> None:
        with Session(self._writer) as s, s.begin():
            known = set(s.scalars(select(Root.path)))
            for p in paths:
                if p not in known:
                    s.add(Root(path=p, added_at=_now()))
                    known.add(p)

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

    def store_files(self, writes: Sequence["FileWrite"]) -> list[tuple[list[int], list[int]]]:
        """Insert or replace each file with its units, in one transaction. Returns (removed
        unit ids, new unit ids) per file. A write that cannot be stored does not lose the
        others: see :meth:`store_files_isolated`, which this wraps (for such a write the
        new ids are empty)."""
        return [(r.removed, r.new_ids) for r in self.store_files_isolated(writes)]

    def store_files_isolated(self, writes: Sequence["FileWrite"]) -> list[StoredFile]:
        """Like :meth:`store_files`, each file under its own SAVEPOINT: a write that fails
        (a constraint, an unstorable value) is rolled back alone, replaced where possible by
        a "failed" row that gives the reason, and reported in its :class:`StoredFile`; the
        rest of the batch and the generation bump are committed together."""
        out: list[StoredFile] = []
        with Session(self._writer) as s, s.begin():
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
            self._bump(s)
        return out

    def _store_one(self, s: Session, w: "FileWrite") -> tuple[list[int], list[int]]:
        row, removed = self._upsert_file(
            s, w.path, modality=w.modality, content_hash=w.content_hash, size=w.size,
            mtime_ns=w.mtime_ns, status=w.status, error=w.error, device=w.device, inode=w.inode,
        )
        new_rows = [
            Unit(file_id=row.id, ordinal=i, start=u.start, end=u.end, text=u.text,
                 vector=vector_to_bytes(u.vector))
            for i, u in enumerate(w.units)
        ]
        s.add_all(new_rows)
        s.flush()
        return removed, [u.id for u in new_rows]

    def copy_file(self, source_id: int, *, path: str, size: int, mtime_ns: int,
                  dim: int, device: int | None = None,
                  inode: int | None = None) -> tuple[list[int], list[int], np.ndarray]:
        """Give ``path`` the units of an already indexed file with the same content (no
        re-embedding). Returns (removed unit ids, new unit ids, their vectors)."""
        with Session(self._writer) as s, s.begin():
            src = s.get(MediaFile, source_id)
            assert src is not None
            src_units = list(s.scalars(select(Unit).where(Unit.file_id == source_id).order_by(Unit.ordinal)))
            row, removed = self._upsert_file(
                s, path, modality=src.modality, content_hash=src.content_hash, size=size,
                mtime_ns=mtime_ns, status="indexed", error=None, device=device, inode=inode,
            )
            new_rows = [
                Unit(file_id=row.id, ordinal=u.ordinal, start=u.start, end=u.end, text=u.text, vector=u.vector)
                for u in src_units
            ]
            s.add_all(new_rows)
            s.flush()
            self._bump(s)
            vectors = np.frombuffer(b"".join(u.vector for u in src_units), dtype="<f4").reshape(-1, dim)
            return removed, [u.id for u in new_rows], vectors.astype(np.float32)

    def move_file(self, file_id: int, *, path: str, size: int, mtime_ns: int,
                  device: int | None = None, inode: int | None = None) -> None:
        """A file found at a new path with the same content keeps its id and units."""
        with Session(self._writer) as s, s.begin():
            s.execute(
                update(MediaFile)
                .where(MediaFile.id == file_id)
                .values(path=path, size=size, mtime_ns=mtime_ns, device=device, inode=inode)
            )
            self._bump(s)

    def touch_file(self, file_id: int, *, size: int, mtime_ns: int,
                   device: int | None = None, inode: int | None = None) -> None:
        """Same content, new stat (e.g. ``touch``): remember the stat, keep everything."""
        values: dict[str, int | None] = {"size": size, "mtime_ns": mtime_ns}
        if device is not None:
            values.update(device=device, inode=inode)
        with Session(self._writer) as s, s.begin():
            s.execute(update(MediaFile).where(MediaFile.id == file_id).values(**values))

    def forget(self, path: str) -> tuple[int, int, list[int]]:
        """Remove the root ``path``, roots under it, and every file under it. Returns
        (roots removed, files removed, unit ids removed)."""
        with Session(self._writer) as s, s.begin():
            roots = [r for r in s.scalars(select(Root)) if is_under(r.path, path)]
            file_ids = [fid for fid, p in s.execute(select(MediaFile.id, MediaFile.path)) if is_under(p, path)]
            removed = list(s.scalars(select(Unit.id).where(Unit.file_id.in_(file_ids)))) if file_ids else []
            if file_ids:
                s.execute(delete(Unit).where(Unit.file_id.in_(file_ids)))
                s.execute(delete(MediaFile).where(MediaFile.id.in_(file_ids)))
            for root in roots:
                s.delete(root)
            self._bump(s)
            return len(roots), len(file_ids), removed

    def delete_files(self, file_ids: Sequence[int]) -> list[int]:
        """Delete files and their units; returns the removed unit ids."""
        if not file_ids:
            return []
        with Session(self._writer) as s, s.begin():
            removed = list(s.scalars(select(Unit.id).where(Unit.file_id.in_(list(file_ids)))))
            s.execute(delete(Unit).where(Unit.file_id.in_(list(file_ids))))
            s.execute(delete(MediaFile).where(MediaFile.id.in_(list(file_ids))))
            self._bump(s)
            return removed
