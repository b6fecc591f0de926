"""The run: plan, then the files to embed stream through decode (worker threads) -> a bounded
queue -> encode -> write, in order, with each stage's time in the report."""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Collection, Iterable, Sequence

from tqdm import tqdm

from searchengine.media.discover import NOTED
from searchengine.catalog.catalog import Catalog
from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.ocr.stage import mark_judged, stale_pictures
from searchengine.pipeline.decode import Decoded, Decoder
from searchengine.pipeline.encode import encode_batch
from searchengine.pipeline.plan import Plan, Work, make_plan
from searchengine.pipeline.read_text import TextPhase
from searchengine.pipeline.report import IndexReport
from searchengine.pipeline.write import Writer
from searchengine.transcribe.whisper import WhisperTranscriber

log = logging.getLogger(__name__)

QUEUE_BATCHES = 3  # decoded batches kept ready ahead of the encoder (bounds memory)


class IndexRun:
    """One indexing run over ``roots``, writing through the ``catalog`` (SQL and FAISS
    together; the caller holds its write lock). ``encoder`` and ``transcriber`` are called
    when the first file needs them (never, when nothing changed)."""

    def __init__(
        self,
        catalog: Catalog,
        encoder: Callable[[], Encoder],
        settings: Settings,
        exclude: Sequence[Path] = (),
        transcriber: Callable[[], WhisperTranscriber] | None = None,
    ):
        self.catalog = catalog
        self.repo = catalog.repo
        self.settings = settings
        self._exclude = list(exclude)
        self.report = IndexReport()
        self._get_encoder = encoder
        self._decoder = Decoder(self.repo, settings, self._encoder, transcriber)
        self._decoder.read_text_later = True

    def _encoder(self) -> Encoder:
        self.report.model_loaded = True
        return self._get_encoder()

    def run(self, roots: Iterable[Path], progress: bool = True,
            on_progress: Callable[[str, int, int], None] | None = None,
            retry_failed: bool = False, *, new_roots: bool = True, hold: Collection[str] = (),
            gone: Sequence[Path] = (), settle_s: float = 0.0, read_text: str = "now") -> IndexReport:
        """``progress`` draws bars on the terminal; ``on_progress(stage, done, total)`` is
        called as work advances (stages: scanning, hashing, indexing, reading text). Every
        file is searchable when "indexing" ends; the text in photos is read after that
        (pipeline.read_text). ``new_roots=False``: ``roots`` are parts of the indexed folders
        (a watched folder's changed places), not folders to remember; ``hold``: files still
        being written, left for a later run; ``gone``: paths deleted since (see
        :func:`searchengine.pipeline.plan.make_plan`). ``read_text``: ``now`` reads the text
        in photos here; ``background`` and ``next-run`` leave it (``report.text_pending``
        counts it; the caller starts the background reader, see
        :mod:`searchengine.pipeline.text_reader`)."""
        report, stages = self.report, self.report.stages
        notify = on_progress or (lambda stage, done, total: None)
        notify("scanning", 0, 0)
        t0 = time.perf_counter()
        roots = [Path(r).expanduser().absolute() for r in roots]
        if new_roots:
            self.repo.add_roots(str(r) for r in roots)
        # pictures whose text units an older judgement of what is language made: made again
        # (from the OCR cache, nothing read again) - an index built before it sheds its junk
        ocr_on = self._decoder.texts.enabled
        redo = stale_pictures(self.repo, self.settings.chunk_chars) if ocr_on else set()
        if redo:
            log.info("%d pictures' text units are made again (what counts as language changed)", len(redo))
        plan = make_plan(self.repo, roots, exclude=self._exclude, retry_failed=retry_failed,
                         follow_outside=self.settings.follow_symlinks_outside,
                         workers=self.settings.decode_workers, progress=progress, on_progress=notify,
                         redo=redo, hold=hold, gone=gone, settle_s=settle_s)
        stages.plan = time.perf_counter() - t0
        report.scanned, report.unchanged = len(plan.found), plan.unchanged
        report.skipped = [(str(s.path), s.reason) for s in plan.skipped]
        report.noted_skips = [(str(s.path), s.reason) for s in plan.skipped if s.code in NOTED]
        for s in plan.skipped:
            report.skip_counts[s.code] = report.skip_counts.get(s.code, 0) + 1
        report.kept = list(plan.kept)
        report.held = list(plan.held)

        writer = Writer(self.catalog, report)
        self._apply_decisions(plan, writer)
        with tqdm(total=round(self._decoder.asr_seconds(plan.embed)), desc="transcribing", unit="s",
                  disable=not progress or not plan.embed, leave=False) as bar:
            self._decoder.asr_bar = bar
            self._stream(plan.embed, writer, progress, notify)
            self._decoder.asr_bar = None
        writer.delete(plan.deletions)
        report.searchable_seconds = time.perf_counter() - t0
        phase = TextPhase(self.catalog, self._encoder, self.settings, self._decoder.texts, report)
        todo = phase.pending()
        if todo and read_text != "now":
            report.text_pending = sum(len(group) for group in todo)
            log.info("text in %d photos left to read (%s)", report.text_pending, read_text)
        elif todo:
            self.catalog.save()  # every file searchable on disk before the (long) text phase
            if report.model_loaded:  # the OCR models load now: free the image graph meanwhile
                release = getattr(self._get_encoder(), "release_image_tower", None)
                if release is not None:
                    release()
            phase.run(todo, progress, notify)
        self.catalog.save(final=True, progress=progress)  # skipped when nothing changed
        if ocr_on and redo <= {str(f.path) for f in plan.found}:  # none left outside this run's roots
            mark_judged(self.repo)
        report.decode_seconds = stages.decode + stages.preprocess
        report.encode_seconds = stages.encode
        report.seconds = time.perf_counter() - t0
        return report

    def _apply_decisions(self, plan: Plan, writer: Writer) -> None:
        t0 = time.perf_counter()
        for rec, f in plan.touch:
            writer.touch(rec, f)
        for old, f in plan.moves:
            writer.move(old, f)
        for source, f in plan.copies:
            writer.copy(source, f)
        for f, reason in plan.unreadable_new:
            writer.failure(f, reason, retry=True)
        self.report.stages.write += time.perf_counter() - t0

    def _stream(self, work: list[Work], writer: Writer, progress: bool,
                notify: Callable[[str, int, int], None]) -> None:
        """decode (threads) -> bounded queue -> encode -> write, in the files' order."""
        if not work:
            return
        size = self.settings.batch_size
        todo = iter(work)
        queue: deque[Future[Decoded]] = deque()
        with ThreadPoolExecutor(self.settings.decode_workers) as pool, tqdm(
            total=len(work), desc="indexing", unit="file", disable=not progress
        ) as bar:
            def refill() -> None:
                while len(queue) < QUEUE_BATCHES * size:
                    item = next(todo, None)
                    if item is None:
                        return
                    queue.append(pool.submit(self._decoder, item))

            refill()
            try:
                self._drain(queue, refill, writer, bar, notify, len(work))
            except BaseException:  # an encoder error, Ctrl-C: stop now, not after the queued decodes
                for future in queue:
                    future.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _drain(self, queue: "deque[Future[Decoded]]", refill: Callable[[], None], writer: Writer,
               bar: tqdm, notify: Callable[[str, int, int], None], total: int) -> None:
        """Decoded files leave the queue in order, a batch at a time: encode, write, and a
        checkpoint of the FAISS file every ``checkpoint_seconds``."""
        stages, size = self.report.stages, self.settings.batch_size
        progress = BatchProgress(self.catalog, self.settings.checkpoint_seconds, bar, notify, total)
        while queue:
            batch: list[Decoded] = []
            t_wait = time.perf_counter()
            while queue and len(batch) < size:
                batch.append(queue.popleft().result())
                refill()
            stages.waiting += time.perf_counter() - t_wait
            self._account(batch)
            t1 = time.perf_counter()
            vectors = encode_batch(self._encoder, batch, self.catalog.dim, size, self.settings.cache_dir)
            t2 = time.perf_counter()
            writer.files(batch, vectors)
            stages.encode += t2 - t1
            stages.write += time.perf_counter() - t2
            progress.written(len(batch))

    def _account(self, batch: list[Decoded]) -> None:
        report, stages = self.report, self.report.stages
        for d in batch:
            stages.decode += d.decode_seconds
            stages.preprocess += d.preprocess_seconds
            report.transcript_cache_hits += d.transcript_cached
            report.ocr_cache_hits += d.ocr_cached
            if d.ocr_seconds is not None:
                report.ocr_images += 1
                report.ocr_seconds += d.ocr_seconds
            if d.frame_spans:
                report.videos += 1
                report.video_seconds += d.video_seconds
                report.frames_decoded += d.frames_decoded
                report.frames_kept += len(d.frame_spans)
                report.frame_decode_seconds += d.frames_seconds
            if d.sound_seconds is not None:
                report.sound_files += 1
                report.sound_events += len(d.sounds)
                report.sound_seconds += d.sound_seconds
                report.sound_audio_seconds += d.audio_seconds
            if d.transcribed_seconds is not None:
                report.transcribed_files += 1
                report.transcribed_seconds += d.transcribed_seconds


class BatchProgress:
    """After each batch is written: the bar, ``on_progress``, and a checkpoint of the FAISS
    file every ``checkpoint_seconds`` (shared by the in-process and the Ray streams)."""

    def __init__(self, catalog: Catalog, checkpoint_seconds: float, bar: tqdm,
                 notify: Callable[[str, int, int], None], total: int):
        self.catalog, self.checkpoint_seconds = catalog, checkpoint_seconds
        self.bar, self.notify, self.total = bar, notify, total
        self.done, self.last_save = 0, time.monotonic()

    def written(self, count: int) -> None:
        self.done += count
        self.bar.update(count)
        self.notify("indexing", self.done, self.total)
        if time.monotonic() - self.last_save > self.checkpoint_seconds:
            self.catalog.save()
            self.last_save = time.monotonic()
