"""Indexing: discover → decide (unchanged / moved / copied / changed / new / deleted) →
decode → encode → write. Incremental by stat and content hash; resumable because every
finished file is committed to SQL at once, and SQL is what FAISS is rebuilt from."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.errors import MediaDecodeError, ModelUnavailableError
from searchengine.media.audio import SAMPLE_RATE, decode_audio, probe_duration
from searchengine.media.discover import FoundFile, walk_media
from searchengine.media.hashing import content_hash
from searchengine.media.images import load_image
from searchengine.media.sidecar import parse_sidecar
from searchengine.media.text import chunk_text, read_text
from searchengine.pathnames import is_under
from searchengine.store.repository import FileRecord, FileWrite, NewUnit, Repository
from searchengine.transcribe.segments import Segment, group_windows
from searchengine.transcribe.whisper import WhisperTranscriber
from searchengine.vectors.faiss_index import VectorIndex

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What one indexing run did."""

    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    reused: int = 0  # new paths whose content was already indexed: vectors copied
    deleted: int = 0
    failed: int = 0
    units_added: int = 0
    transcribed_files: int = 0  # recordings run through speech recognition this time
    transcribed_seconds: float = 0.0  # seconds of audio they held
    transcript_cache_hits: int = 0  # recordings whose transcript was already known
    seconds: float = 0.0
    decode_seconds: float = 0.0
    encode_seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)  # indexed folders gone from disk, kept

    @property
    def embedded_files(self) -> int:
        return self.added + self.updated


@dataclass
class _Decoded:
    found: FoundFile
    content_hash: str
    images: list[Any] = field(default_factory=list)  # prepared by the encoder
    chunks: list[tuple[float | None, float | None, str]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    transcribed_seconds: float | None = None  # set when speech recognition ran
    transcript_cached: bool = False


@dataclass
class _Work:
    found: FoundFile
    content_hash: str
    known: FileRecord | None


class Indexer:
    def __init__(
        self,
        repo: Repository,
        vectors: VectorIndex,
        encoder: Encoder,
        settings: Settings,
        save: Callable[[], None],
        exclude: Sequence[Path] = (),
        transcriber: Callable[[], WhisperTranscriber] | None = None,
        lock: threading.RLock | None = None,
    ):
        self.repo = repo
        self.vectors = vectors
        self.encoder = encoder
        self.settings = settings
        self._save = save
        self._exclude = list(exclude)
        self._transcriber = transcriber
        # held around each SQL write + FAISS change, so concurrent searches see either the
        # state before a file's change or after it, never half of it
        self._lock = lock or threading.RLock()
        self._asr_bar: tqdm | None = None

    def run(self, roots: Iterable[Path], progress: bool = True,
            on_progress: Callable[[str, int, int], None] | None = None,
            retry_failed: bool = False) -> IndexReport:
        """``progress`` draws bars on the terminal; ``on_progress(stage, done, total)`` is
        called as work advances (stages: scanning, hashing, indexing)."""
        self._on_progress = on_progress or (lambda stage, done, total: None)
        self._on_progress("scanning", 0, 0)
        t0 = time.perf_counter()
        report = IndexReport()
        roots = [Path(r).expanduser().absolute() for r in roots]
        self.repo.add_roots(str(r) for r in roots)
        found = list(walk_media(roots, exclude=self._exclude))
        report.scanned = len(found)
        known = self.repo.files()
        found_paths = {str(f.path) for f in found}
        missing = {
            p: rec for p, rec in known.items()
            if p not in found_paths and any(is_under(p, str(r)) for r in roots)
        }

        candidates: list[FoundFile] = []
        for f in found:
            rec = known.get(str(f.path))
            if rec and rec.size == f.size and rec.mtime_ns == f.mtime_ns and not (
                retry_failed and rec.status == "failed"
            ):
                report.unchanged += 1
            else:
                candidates.append(f)

        hashed = self._hash_all(candidates, report, progress)
        missing_by_hash: dict[str, FileRecord] = {}
        indexed_by_hash: dict[str, FileRecord] = {}
        for rec in known.values():
            if rec.status == "indexed":
                indexed_by_hash.setdefault(rec.content_hash, rec)
                if rec.path in missing:
                    missing_by_hash.setdefault(rec.content_hash, rec)

        to_embed: list[_Work] = []
        for f, digest in hashed:
            path = str(f.path)
            rec = known.get(path)
            if rec and rec.content_hash == digest and rec.status == "indexed":
                self.repo.touch_file(rec.id, size=f.size, mtime_ns=f.mtime_ns)
                report.unchanged += 1
            elif digest in missing_by_hash and rec is None:
                old = missing_by_hash.pop(digest)
                missing.pop(old.path, None)
                with self._lock:
                    self.repo.move_file(old.id, path=path, size=f.size, mtime_ns=f.mtime_ns)
                    self._synced()
                report.moved += 1
            elif (source := indexed_by_hash.get(digest)) is not None and source.path != path:
                with self._lock:
                    removed, new_ids, vecs = self.repo.copy_file(
                        source.id, path=path, size=f.size, mtime_ns=f.mtime_ns, dim=self.vectors.dim
                    )
                    self._apply(removed, new_ids, vecs)
                report.reused += 1
            else:
                to_embed.append(_Work(f, digest, rec))

        with tqdm(total=round(self._asr_seconds(to_embed)), desc="transcribing", unit="s",
                  disable=not progress, leave=False) as self._asr_bar:
            self._embed_all(to_embed, report, progress)
        self._asr_bar = None

        if missing:
            with self._lock:
                self._apply(self.repo.delete_files([rec.id for rec in missing.values()]), [], [])
            report.deleted = len(missing)
        self._save()  # takes the lock only to snapshot the index; skipped when nothing changed
        report.seconds = time.perf_counter() - t0
        return report

    # -- stages -----------------------------------------------------------------------------

    def _hash_all(
        self, files: list[FoundFile], report: IndexReport, progress: bool
    ) -> list[tuple[FoundFile, str]]:
        out: list[tuple[FoundFile, str]] = []
        if not files:
            return out
        with ThreadPoolExecutor(self.settings.decode_workers) as pool, tqdm(
            total=len(files), desc="hashing", unit="file", disable=not progress, leave=False
        ) as bar:
            for n, (f, digest) in enumerate(zip(files, pool.map(_safe_hash, files)), 1):
                bar.update(1)
                self._on_progress("hashing", n, len(files))
                if isinstance(digest, Exception):
                    self._record_failure(f, "", f"{f.path}: cannot read: {digest}", report)
                else:
                    out.append((f, digest))
        return out

    def _embed_all(self, work: list[_Work], report: IndexReport, progress: bool) -> None:
        if not work:
            return
        size = self.settings.batch_size
        groups = [work[i : i + size] for i in range(0, len(work), size)]
        last_save = time.monotonic()
        with ThreadPoolExecutor(self.settings.decode_workers) as pool, tqdm(
            total=len(work), desc="indexing", unit="file", disable=not progress
        ) as bar:
            pending: list[Future[_Decoded]] = [pool.submit(self._decode, w) for w in groups[0]]
            for gi in range(len(groups)):
                decoded = [fu.result() for fu in pending]
                if gi + 1 < len(groups):  # decode the next group while this one encodes
                    pending = [pool.submit(self._decode, w) for w in groups[gi + 1]]
                self._encode_and_write(groups[gi], decoded, report)
                bar.update(len(decoded))
                self._on_progress("indexing", min(len(work), (gi + 1) * size), len(work))
                if time.monotonic() - last_save > self.settings.checkpoint_seconds:
                    self._save()
                    last_save = time.monotonic()

    def _decode(self, work: _Work) -> _Decoded:
        t0 = time.perf_counter()
        f = work.found
        out = _Decoded(found=f, content_hash=work.content_hash)
        try:
            if f.size == 0:
                raise MediaDecodeError(f"{f.path}: empty file (0 bytes)")
            if f.modality == "image":
                out.images.append(self.encoder.prepare_image(load_image(f.path)))
            elif f.modality == "text":
                chunks = chunk_text(read_text(f.path), self.settings.chunk_chars, self.settings.chunk_overlap)
                if not chunks:
                    raise MediaDecodeError(f"{f.path}: no text in file")
                out.chunks = [(float(c.start), float(c.end), c.text) for c in chunks]
            elif f.modality == "audio":
                segments = self._transcript(f, work.content_hash, out)
                out.chunks = [(w.start, w.end, w.text) for w in group_windows(segments)]
            else:  # pragma: no cover - discover only yields known modalities
                raise MediaDecodeError(f"{f.path}: unsupported modality {f.modality}")
        except MediaDecodeError as exc:
            out.error = str(exc)
        except ModelUnavailableError:
            raise  # not this file's fault: stop the run with the reason
        except Exception as exc:  # a decoder bug or an exotic file must not stop the run
            log.exception("unexpected error decoding %s", f.path)
            out.error = f"{f.path}: unexpected error while decoding: {type(exc).__name__}: {exc}"
        out.seconds = time.perf_counter() - t0
        return out

    def _asr_source(self) -> str:
        return f"asr:{self.settings.asr_model}"

    def _asr_seconds(self, work: list[_Work]) -> float:
        """Seconds of audio that speech recognition will get, for the progress bar."""
        total = 0.0
        for w in work:
            f = w.found
            if f.modality == "audio" and f.sidecar is None and self.repo.transcript(w.content_hash, self._asr_source()) is None:
                total += probe_duration(f.path)
        return total

    def _transcript(self, f: FoundFile, digest: str, out: _Decoded) -> list[Segment]:
        """Timed segments: from the sidecar, from the cache, or from speech recognition."""
        source = "sidecar" if f.sidecar is not None else self._asr_source()
        cached = self.repo.transcript(digest, source)
        if cached is not None:
            out.transcript_cached = True
            return cached[0]
        if f.sidecar is not None:
            duration = probe_duration(f.path)
            segments, language = parse_sidecar(f.sidecar, duration), None
        else:
            assert self._transcriber is not None, "the engine always gives the indexer a transcriber"
            audio = decode_audio(f.path)
            duration = len(audio) / SAMPLE_RATE
            bar = self._asr_bar
            segments, language = self._transcriber().transcribe(
                audio, on_progress=(lambda s: bar.update(round(s, 1))) if bar is not None else None
            )
            out.transcribed_seconds = duration
        self.repo.save_transcript(digest, source, segments, language, duration)
        return segments

    def _encode_and_write(self, works: list[_Work], decoded: list[_Decoded], report: IndexReport) -> None:
        report.decode_seconds += sum(d.seconds for d in decoded)
        for d in decoded:
            report.transcript_cache_hits += d.transcript_cached
            if d.transcribed_seconds is not None:
                report.transcribed_files += 1
                report.transcribed_seconds += d.transcribed_seconds
        t0 = time.perf_counter()
        ok = [d for d in decoded if d.error is None]
        image_vecs = self._encode_images([img for d in ok for img in d.images])
        text_vecs = self._encode_texts([c[2] for d in ok for c in d.chunks])
        report.encode_seconds += time.perf_counter() - t0
        ii = ti = 0
        writes: list[FileWrite] = []
        for d in decoded:
            units: list[NewUnit] = []
            if d.error is None:  # the same order as the encoded batches above
                for _ in d.images:
                    units.append(NewUnit(None, None, None, image_vecs[ii]))
                    ii += 1
                for start, end, text in d.chunks:
                    units.append(NewUnit(start, end, text, text_vecs[ti]))
                    ti += 1
            f = d.found
            writes.append(FileWrite(
                path=str(f.path), modality=f.modality, content_hash=d.content_hash, size=f.size,
                mtime_ns=f.mtime_ns, units=units,
                status="indexed" if d.error is None else "failed", error=d.error,
            ))
        with self._lock:  # one transaction for the whole batch, mirrored in FAISS at once
            results = self.repo.store_files(writes)
            for write, (removed, new_ids) in zip(writes, results):
                self._apply(removed, new_ids, [u.vector for u in write.units])
        for work, d, (_, new_ids) in zip(works, decoded, results):
            if d.error is not None:
                log.warning("failed: %s", d.error)
                report.failed += 1
                report.failures.append((str(d.found.path), d.error))
            else:
                report.units_added += len(new_ids)
                if work.known is None:
                    report.added += 1
                else:
                    report.updated += 1

    def _encode_images(self, prepared: list[Any]) -> np.ndarray:
        if not prepared:
            return np.zeros((0, self.vectors.dim), dtype=np.float32)
        return self.encoder.encode_prepared_images(prepared)

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.vectors.dim), dtype=np.float32)
        size = self.settings.batch_size
        return np.concatenate(
            [self.encoder.encode_texts(texts[i : i + size]) for i in range(0, len(texts), size)]
        )

    def _apply(self, removed: list[int], new_ids: list[int], vectors: np.ndarray | Sequence[np.ndarray]) -> None:
        """Mirror an SQL change in the in-memory FAISS index (SQL first, always; called
        under the lock)."""
        self.vectors.remove(removed)
        if new_ids:
            self.vectors.add(np.asarray(new_ids, dtype=np.int64), np.asarray(vectors, dtype=np.float32))
        self._synced()

    def _synced(self) -> None:
        """The in-memory index now reflects SQL's latest write (called under the lock)."""
        self.vectors.generation = self.repo.generation()

    def _record_failure(self, f: FoundFile, digest: str, reason: str, report: IndexReport) -> None:
        log.warning("failed: %s", reason)
        with self._lock:
            ((removed, _),) = self.repo.store_files([FileWrite(
                path=str(f.path), modality=f.modality, content_hash=digest, size=f.size,
                mtime_ns=f.mtime_ns, units=[], status="failed", error=reason,
            )])
            self._apply(removed, [], [])
        report.failed += 1
        report.failures.append((str(f.path), reason))


def _safe_hash(f: FoundFile) -> str | Exception:
    try:
        return content_hash(f.path, f.sidecar)
    except OSError as exc:
        return exc
