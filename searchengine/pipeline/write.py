"""Stage 4, write: SQL first, then the in-memory FAISS index mirrors it, under the engine's
lock, so that a concurrent search sees a file's change whole or not at all. Each file's
SQL write is isolated (a savepoint): one bad row never loses the others of its batch."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Sequence

import numpy as np

from searchengine.media.discover import FoundFile
from searchengine.pipeline.decode import Decoded
from searchengine.pipeline.report import IndexReport
from searchengine.store.repository import FileRecord, FileWrite, NewUnit, Repository
from searchengine.vectors.faiss_index import VectorIndex

log = logging.getLogger(__name__)


class Writer:
    def __init__(self, repo: Repository, vectors: Callable[[], VectorIndex], lock: threading.RLock,
                 report: IndexReport):
        self.repo = repo
        self._vectors = vectors  # loaded on the first change that FAISS must mirror
        self._lock = lock
        self._report = report

    @property
    def vectors(self) -> VectorIndex:
        return self._vectors()

    def touch(self, rec: FileRecord, f: FoundFile) -> None:
        self.repo.touch_file(rec.id, size=f.size, mtime_ns=f.mtime_ns, device=f.device, inode=f.inode)

    def move(self, old: FileRecord, f: FoundFile) -> None:
        with self._lock:
            self.repo.move_file(old.id, path=str(f.path), size=f.size, mtime_ns=f.mtime_ns,
                                device=f.device, inode=f.inode)
            self._synced()
        self._report.moved += 1

    def copy(self, source: FileRecord, f: FoundFile) -> None:
        with self._lock:
            removed, new_ids, vecs = self.repo.copy_file(
                source.id, path=str(f.path), size=f.size, mtime_ns=f.mtime_ns, dim=self.vectors.dim,
                device=f.device, inode=f.inode,
            )
            self._apply(removed, new_ids, vecs)
        self._report.reused += 1

    def files(self, batch: Sequence[Decoded], vectors: Sequence[np.ndarray]) -> None:
        """Store a batch of decoded (and encoded) files; failures are stored with their reason,
        except for indexed files that could only not be read now: those are kept as they are."""
        for d in batch:
            if d.kept:
                self._report.kept.append((str(d.work.found.path), f"{d.error}; its indexed version is kept "
                                          "and it is tried again next run"))
        pairs = [(d, v) for d, v in zip(batch, vectors) if not d.kept]
        batch, vectors = [d for d, _ in pairs], [v for _, v in pairs]
        writes = []
        for d, vecs in zip(batch, vectors):
            f = d.work.found
            units = [NewUnit(None, None, None, v) for v in vecs[: len(d.images)]]
            units += [NewUnit(s, e, text, v) for (s, e, text), v in zip(d.chunks, vecs[len(d.images):])]
            writes.append(FileWrite(
                path=str(f.path), modality=f.modality, content_hash=d.work.content_hash, size=f.size,
                mtime_ns=f.mtime_ns, units=units if d.error is None else [],
                status="indexed" if d.error is None else "failed", error=d.error,
                device=f.device, inode=f.inode,
            ))
        with self._lock:
            stored = self.repo.store_files_isolated(writes)
            for write, result in zip(writes, stored):
                self.vectors.remove(result.removed)
                if result.new_ids:
                    self.vectors.add(np.asarray(result.new_ids, dtype=np.int64),
                                     np.asarray([u.vector for u in write.units], dtype=np.float32))
            self._synced()
        report = self._report
        for d, write, result in zip(batch, writes, stored):
            error = d.error or result.error
            if error is not None:
                log.warning("failed: %s", error)
                report.failed += 1
                report.failures.append((write.path, error))
            else:
                report.units_added += len(result.new_ids)
                if d.work.known is None:
                    report.added += 1
                else:
                    report.updated += 1

    def failure(self, f: FoundFile, reason: str, digest: str = "", *, retry: bool = False) -> None:
        """Record ``f`` as failed. With ``retry`` (it could not be read: perhaps only for
        now) its size is stored as -1, so that the next run does not take it for unchanged."""
        log.warning("failed: %s", reason)
        with self._lock:
            (result,) = self.repo.store_files_isolated([FileWrite(
                path=str(f.path), modality=f.modality, content_hash=digest, size=-1 if retry else f.size,
                mtime_ns=f.mtime_ns, units=[], status="failed", error=reason,
                device=f.device, inode=f.inode,
            )])
            self._apply(result.removed, [], [])
        self._report.failed += 1
        self._report.failures.append((str(f.path), reason))

    def delete(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        with self._lock:
            self._apply(self.repo.delete_files([rec.id for rec in records]), [], [])
        self._report.deleted += len(records)

    def _apply(self, removed: list[int], new_ids: list[int], vectors: np.ndarray | Sequence[np.ndarray]) -> None:
        self.vectors.remove(removed)
        if new_ids:
            self.vectors.add(np.asarray(new_ids, dtype=np.int64), np.asarray(vectors, dtype=np.float32))
        self._synced()

    def _synced(self) -> None:
        """The in-memory index now reflects SQL's latest write (called under the lock)."""
        self.vectors.generation = self.repo.generation()
