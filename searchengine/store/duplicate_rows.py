"""The SQL reads of the duplicates pass (:mod:`searchengine.duplicates.finder`): the files whose
content hash another indexed file shares, and the photos' vectors in id order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
from sqlalchemy import func, select

from searchengine.store.models import MediaFile, Unit
from searchengine.store.repository import SQL_BATCH, Repository

INDEXED = "indexed"
PHOTO = "image"  # the modality of photos, and the kind of their whole-picture unit


@dataclass(frozen=True)
class CopyRow:
    """An indexed file whose content hash another indexed file (meeting the same
    conditions) shares. ``item_id``: its first unit (None when it has none, e.g. an empty
    text file)."""

    file_id: int
    item_id: int | None
    path: str
    modality: str
    size: int
    mtime_ns: int
    content_hash: str


@dataclass(frozen=True)
class PhotoBatch:
    """Whole-picture units of photos, in id order: unit ids, file ids, vectors, and (when
    asked for) the files' paths and modification times for an exact filter test."""

    ids: np.ndarray
    file_ids: np.ndarray
    vectors: np.ndarray
    paths: list[str] | None = None
    mtimes: list[int] | None = None


def copy_rows(repo: Repository, conditions: Sequence[Any] = ()) -> list[CopyRow]:
    """Every indexed file sharing its content hash with another one, both meeting the SQL
    ``conditions`` on ``media_files``; ordered by hash, then path. One ``GROUP BY ...
    HAVING COUNT(*) > 1`` (a scan: ``content_hash`` has no index) and the matching rows."""
    where = [MediaFile.status == INDEXED, MediaFile.content_hash != "", *conditions]
    shared = (select(MediaFile.content_hash).where(*where)
              .group_by(MediaFile.content_hash).having(func.count() > 1))
    first_unit = select(func.min(Unit.id)).where(Unit.file_id == MediaFile.id).scalar_subquery()
    query = (select(MediaFile.id, first_unit, MediaFile.path, MediaFile.modality, MediaFile.size,
                    MediaFile.mtime_ns, MediaFile.content_hash)
             .where(*where, MediaFile.content_hash.in_(shared))
             .order_by(MediaFile.content_hash, MediaFile.path))
    with repo.engine.connect() as c:
        return [CopyRow(int(r[0]), None if r[1] is None else int(r[1]), r[2], r[3], int(r[4]), int(r[5]), r[6])
                for r in c.execute(query)]


def _photo_conditions(conditions: Sequence[Any]) -> list[Any]:
    return [Unit.kind == PHOTO, MediaFile.modality == PHOTO, MediaFile.status == INDEXED, *conditions]


def photo_count(repo: Repository, conditions: Sequence[Any] = ()) -> int:
    """How many photos (whole-picture units) meet ``conditions``."""
    query = (select(func.count(Unit.id)).join(MediaFile, MediaFile.id == Unit.file_id)
             .where(*_photo_conditions(conditions)))
    with repo.engine.connect() as c:
        return int(c.execute(query).scalar() or 0)


def photo_batches(repo: Repository, dim: int, conditions: Sequence[Any] = (), *, batch: int = 1024,
                  with_paths: bool = False) -> Iterator[PhotoBatch]:
    """The photos meeting ``conditions`` (only whole-picture units: not the text read in
    them), in unit id order: pages of ``batch`` units read in rowid order (each page one
    range read, whatever its depth), then their files checked by primary key. (One joined
    query would let SQLite start from the modality index and sort every page.)"""
    last = 0
    file_columns: list[Any] = [MediaFile.id] + ([MediaFile.path, MediaFile.mtime_ns] if with_paths else [])
    while True:
        with repo.engine.connect() as c:
            rows: list[Any] = list(c.execute(
                select(Unit.id, Unit.file_id, Unit.vector).where(Unit.id > last, Unit.kind == PHOTO)
                .order_by(Unit.id).limit(batch)).all())
            if not rows:
                return
            last = int(rows[-1][0])
            wanted = sorted({int(r[1]) for r in rows})
            files: dict[int, Any] = {}
            for i in range(0, len(wanted), SQL_BATCH):
                files.update((int(f[0]), f) for f in c.execute(
                    select(*file_columns).where(MediaFile.id.in_(wanted[i:i + SQL_BATCH]), MediaFile.modality == PHOTO,
                                                MediaFile.status == INDEXED, *conditions)))
        rows = [r for r in rows if int(r[1]) in files]
        if not rows:
            continue
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        file_ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), dim)
        yield PhotoBatch(ids, file_ids, vectors.astype(np.float32),
                         [files[int(r[1])][1] for r in rows] if with_paths else None,
                         [int(files[int(r[1])][2]) for r in rows] if with_paths else None)
