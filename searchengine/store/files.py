"""Files: the roots, the rows of indexed and failed files with their facts, and the writes
that add, replace, copy, move and delete them with their units (inside the catalog's
transaction, which logs and mirrors the unit ids each returns)."""

from __future__ import annotations

import logging
from typing import Any, Iterable, Sequence, cast

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from searchengine.media.pathnames import display_path, is_under
from searchengine.store import keywords
from searchengine.store.models import ImageText, MediaFile, Root, Unit
from searchengine.store.records import (SQL_BATCH, FileRecord, FileWrite, StoredFile, keyword_name, now, record,
                                        vector_to_bytes)
from searchengine.store.tables import Tables

log = logging.getLogger(__name__)


class FileStore(Tables):
    def roots(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.scalars(select(Root.path).order_by(Root.id)))

    def files(self) -> dict[str, FileRecord]:
        columns = (MediaFile.id, MediaFile.path, MediaFile.modality, MediaFile.content_hash, MediaFile.size,
                   MediaFile.mtime_ns, MediaFile.status, MediaFile.error, MediaFile.device, MediaFile.inode)
        with self.engine.connect() as c:  # plain rows, no ORM objects: a watched folder asks often
            return {row[1]: FileRecord(*row) for row in c.execute(select(*columns))}  # type: ignore[call-arg]

    def files_without_facts(self, modalities: Sequence[str] = ("image", "video")) -> list[FileRecord]:
        """Indexed photos and videos whose date, place and camera were never read (indexed
        before revision 0008)."""
        with Session(self.engine) as s:
            return [record(row) for row in s.scalars(
                select(MediaFile).where(MediaFile.status == "indexed", MediaFile.facts.is_(False),
                                        MediaFile.modality.in_(list(modalities))).order_by(MediaFile.id))]

    def failures(self) -> list[FileRecord]:
        with Session(self.engine) as s:
            return [record(r) for r in s.scalars(select(MediaFile).where(MediaFile.status != "indexed"))]

    def files_where_at_most(self, conditions: Sequence[Any], limit: int) -> bool:
        """Whether at most ``limit`` files meet every condition: counted on the indexes
        alone, stopping at ``limit + 1`` (cheap for a broad filter too)."""
        with self.engine.connect() as c:
            inner = select(MediaFile.id).where(*conditions).limit(limit + 1).subquery()
            return int(c.execute(select(func.count()).select_from(inner)).scalar() or 0) <= limit

    def images_without_text(self, source: str) -> list[FileRecord]:
        """Indexed images whose text ``source`` has not read yet (no cache row for their
        content): what the text phase of an indexing run still has to read, in path order."""
        unread = ~select(ImageText.id).where(ImageText.content_hash == MediaFile.content_hash,
                                             ImageText.source == source).exists()
        with Session(self.engine) as s:
            rows = s.scalars(select(MediaFile).where(MediaFile.modality == "image", MediaFile.status == "indexed",
                                                      unread).order_by(MediaFile.path))
            return [record(row) for row in rows]

    def count_images_without_text(self, source: str) -> int:
        unread = ~select(ImageText.id).where(ImageText.content_hash == MediaFile.content_hash,
                                             ImageText.source == source).exists()
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count(MediaFile.id)).where(
                MediaFile.modality == "image", MediaFile.status == "indexed", unread)) or 0)

    def add_roots(self, paths: Iterable[str]) -> None:
        with Session(self._writer) as s, s.begin():
            known = set(s.scalars(select(Root.path)))
            for p in paths:
                if p not in known:
                    s.add(Root(path=p, added_at=now()))
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
        now = now()
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
                 kind=u.kind_in(w.modality), box=u.box_json(), page=u.page, vector=vector_to_bytes(u.vector),
                 scores=u.scores_bytes())
            for w in writes for i, u in enumerate(w.units)
        ]
        unit_ids = self._insert(s, Unit, unit_rows) if unit_rows else []
        if self.has_keywords:
            conn = s.connection()
            keywords.remove(conn, [u for gone in removed.values() for u in gone])
            keywords.add(conn, [(uid, cast("str | None", row["text"]), keyword_name(w.path)) for uid, row, w in
                                zip(unit_ids, unit_rows, (w for w in writes for _ in w.units))])
        out, at = [], 0
        for w in writes:
            ids = [int(i) for i in unit_ids[at:at + len(w.units)]]
            at += len(w.units)
            out.append(StoredFile(w.path, removed.get(existing[w.path], []), ids))
        return out

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
        row.indexed_at = now()
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
                 kind=u.kind_in(w.modality), box=u.box_json(), page=u.page, vector=vector_to_bytes(u.vector),
                 scores=u.scores_bytes())
            for i, u in enumerate(w.units)
        ]
        s.add_all(new_rows)
        s.flush()
        self._keywords_changed(s, removed, [(u.id, u.text, keyword_name(w.path)) for u in new_rows])
        return removed, [u.id for u in new_rows]

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
                 box=u.box, page=u.page, vector=u.vector, scores=u.scores)
            for u in src_units
        ]
        s.add_all(new_rows)
        s.flush()
        self._keywords_changed(s, removed, [(u.id, u.text, keyword_name(path)) for u in new_rows])
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
            keywords.rename(s.connection(), units, keyword_name(path))

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
