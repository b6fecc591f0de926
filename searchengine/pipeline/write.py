"""Stage 4, write: each batch goes to the catalog, which writes SQL and mirrors it in FAISS
in one step (a concurrent search sees a batch whole or not at all). A batch is written with
bulk statements; if it fails, file by file, so one bad row never loses the others."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from searchengine.catalog.catalog import Catalog
from searchengine.media.discover import FoundFile
from searchengine.pipeline.decode import Decoded
from searchengine.pipeline.report import IndexReport
from searchengine.store.repository import FileRecord, FileWrite, NewUnit

log = logging.getLogger(__name__)


class Writer:
    def __init__(self, catalog: Catalog, report: IndexReport):
        self.catalog = catalog
        self._report = report

    def touch(self, rec: FileRecord, f: FoundFile) -> None:
        self.catalog.repo.touch_file(rec.id, size=f.size, mtime_ns=f.mtime_ns, device=f.device, inode=f.inode)

    def move(self, old: FileRecord, f: FoundFile) -> None:
        self.catalog.move_file(old.id, path=str(f.path), size=f.size, mtime_ns=f.mtime_ns,
                               device=f.device, inode=f.inode)
        self._report.moved += 1

    def copy(self, source: FileRecord, f: FoundFile) -> None:
        self.catalog.copy_file(source.id, path=str(f.path), size=f.size, mtime_ns=f.mtime_ns,
                               device=f.device, inode=f.inode)
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
            units = ([NewUnit(s, e, None, v, kind="frame") for (s, e), v in zip(d.frame_spans, vecs)]
                     if d.frame_spans else [NewUnit(None, None, None, v) for v in vecs[: len(d.images)]])
            pages = d.pages or [None] * len(d.chunks)
            units += [NewUnit(s, e, text, v, page=p)
                      for (s, e, text), p, v in zip(d.chunks, pages, vecs[len(d.images):])]
            units += [NewUnit(s.start, s.end, s.text, v, kind="sound", scores=s.scores)
                      for s, v in zip(d.sounds, vecs[len(d.images) + len(d.chunks):])]
            if f.modality == "image":  # the chunks of an image: the text read in it, each with its
                n = len(d.images)      # box, then the names of the place it was taken, if known
                units[n:] = [NewUnit(u.start, u.end, u.text, u.vector, kind="ocr", box=box)
                             for u, box in zip(units[n:], d.boxes)] + \
                    [NewUnit(u.start, u.end, u.text, u.vector, kind="place") for u in units[n + len(d.boxes):]]
            writes.append(FileWrite(
                path=str(f.path), modality=f.modality, content_hash=d.work.content_hash, size=f.size,
                mtime_ns=f.mtime_ns, units=units if d.error is None else [],
                status="indexed" if d.error is None else "failed", error=d.error,
                device=f.device, inode=f.inode, facts=d.facts if d.error is None else None,
            ))
        stored = self.catalog.store_files(writes)
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
        self.catalog.store_files([FileWrite(
            path=str(f.path), modality=f.modality, content_hash=digest, size=-1 if retry else f.size,
            mtime_ns=f.mtime_ns, units=[], status="failed", error=reason,
            device=f.device, inode=f.inode,
        )])
        self._report.failed += 1
        self._report.failures.append((str(f.path), reason))

    def delete(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        self.catalog.delete_files([rec.id for rec in records])
        self._report.deleted += len(records)
