"""Stage 5, the text phase: read the text in the photos the stream made searchable without it.

The stream (decode -> encode -> write) embeds a photo whose text is not cached yet without
reading it: it decodes it small (at the model's size, not at 1024 px) and never waits for
the OCR models, so every photo is searchable by what it shows first. This phase then reads
those photos, largest cost last: the detector (and the recogniser where it finds text) on
each picture at its own size, decoded again in worker threads while the previous one is
read; the blocks it finds become ``ocr`` units of the file (in SQL and FAISS together, like
any write), and the reading is cached by content hash after them.

What is still to read is never kept anywhere but in the index itself: an indexed photo
whose content has no cached reading (:meth:`Repository.images_without_text`). A run that
is stopped or killed mid-phase leaves the rest unread and the next `searchengine index`
reads them (writing a reading twice leaves one copy of its units); `searchengine status`
says how many are left.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator

from tqdm import tqdm

from searchengine.catalog.catalog import Catalog
from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.errors import MediaDecodeError
from searchengine.media.images import load_image
from searchengine.media.pathnames import display_path
from searchengine.ocr import reader as ocr_reader
from searchengine.ocr.language import judge
from searchengine.ocr.layout import Line, group_blocks
from searchengine.ocr.stage import ImageTexts
from searchengine.pipeline.report import IndexReport
from searchengine.store.repository import FileRecord, NewUnit

log = logging.getLogger(__name__)

AHEAD = 4  # pictures decoded ahead of the reader (each at most 1024 px a side: ~3 MB)


class TextPhase:
    def __init__(self, catalog: Catalog, encoder: Callable[[], Encoder], settings: Settings,
                 texts: ImageTexts, report: IndexReport):
        self.catalog, self.settings, self.texts, self.report = catalog, settings, texts, report
        self._encoder = encoder

    def pending(self) -> list[list[FileRecord]]:
        """The photos still to read, grouped by content (one reading serves every copy)."""
        if not self.texts.enabled:
            return []
        by_hash: dict[str, list[FileRecord]] = {}
        for rec in self.catalog.repo.images_without_text(self.texts.source):
            by_hash.setdefault(rec.content_hash, []).append(rec)
        return list(by_hash.values())

    def run(self, todo: list[list[FileRecord]], progress: bool, notify: Callable[[str, int, int], None],
            stop: Callable[[], bool] | None = None) -> bool:
        """Read ``todo`` (from :meth:`pending`), storing each reading as it comes; ``stop``
        is asked between two photos (True: stop there, the rest left to read). True when
        all of ``todo`` was read."""
        if not todo:
            return True
        t0 = time.perf_counter()
        done, last_save = 0, time.monotonic()
        with tqdm(total=len(todo), desc="reading text", unit="photo", disable=not progress) as bar:
            for group, lines, seconds in self._readings(todo):
                if stop is not None and stop():
                    log.info("reading text stopped after %d of %d photos (asked to)", done, len(todo))
                    break
                if lines is not None:
                    self._store(group, lines)
                    self.report.ocr_images += 1
                    self.report.ocr_seconds += seconds
                done += 1
                bar.update(1)
                notify("reading text", done, len(todo))
                if time.monotonic() - last_save > self.settings.checkpoint_seconds:
                    self.catalog.save()
                    last_save = time.monotonic()
        self.report.text_pending = self.catalog.repo.count_images_without_text(self.texts.source)
        self.report.stages.read_text = time.perf_counter() - t0
        return done == len(todo)

    def _readings(self, todo: list[list[FileRecord]]) -> Iterator[tuple[list[FileRecord], list[Line] | None, float]]:
        """Each group with its reading (None: not read now), in order; pictures are decoded in
        worker threads, at most ``AHEAD`` ahead (the models read one at a time)."""
        items = iter(todo)
        queue: deque[tuple[list[FileRecord], Future[tuple[list[Line], float] | None]]] = deque()
        with ThreadPoolExecutor(max(1, self.settings.decode_workers)) as pool:
            def refill() -> None:
                while len(queue) < AHEAD:
                    group = next(items, None)
                    if group is None:
                        return
                    queue.append((group, pool.submit(self._read, group)))

            refill()
            try:
                while queue:
                    group, future = queue.popleft()
                    result = future.result()
                    refill()
                    yield (group, None, 0.0) if result is None else (group, result[0], result[1])
            except BaseException:  # Ctrl-C, a missing OCR package: stop now
                for _, f in queue:
                    f.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _read(self, group: list[FileRecord]) -> tuple[list[Line], float] | None:
        """The reading of the first copy still on disk as it was indexed; None when none is
        (changed since: the next run embeds it again) or the picture cannot be read now."""
        rec = next((r for r in group if _unchanged(r)), None)
        if rec is None:
            return None
        try:
            image = load_image(rec.path)  # at its own size (at most 1024 px a side), for small text
            return self.texts.read(image)
        except ocr_reader.OcrUnavailableError:
            raise
        except MediaDecodeError as exc:
            log.warning("text not read: %s", exc)
        except Exception:  # an OCR failure costs this picture its text, not the run
            log.exception("reading the text in %s failed", display_path(rec.path))
        return None

    def _store(self, group: list[FileRecord], lines: list[Line]) -> None:
        """The blocks as ``ocr`` units of every copy, then the reading in the cache."""
        # only what is language becomes units, as in the decoder (searchengine.ocr.language)
        blocks = [b for b in group_blocks(lines, self.settings.chunk_chars) if judge(b.text, b.score)]
        if blocks:
            vectors = self._encoder().encode_texts([b.text for b in blocks])
            units = [NewUnit(None, None, b.text, v, kind="ocr", box=b.box) for b, v in zip(blocks, vectors)]
            for rec in group:
                self.report.units_added += self.catalog.replace_text_units(rec.id, units)
        self.texts.save(group[0].content_hash, lines)


def _unchanged(rec: FileRecord) -> bool:
    try:
        st = os.stat(rec.path)
    except OSError:
        return False
    return st.st_size == rec.size and st.st_mtime_ns == rec.mtime_ns
