"""The indexing step for text in images: look the picture up in the cache by content hash
(a moved, copied or re-added picture is never read again), read it otherwise, and hand the
decoder its blocks as passages with boxes."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Protocol

from PIL import Image

from searchengine.ocr import reader as ocr_reader
from searchengine.ocr.language import VERSION as LANGUAGE_VERSION, judge
from searchengine.ocr.layout import Line, group_blocks
from searchengine.store.caches import DecodeCache
from searchengine.store.repository import Repository



class Decoding(Protocol):
    """What this step fills in of a file being decoded (the pipeline's ``Decoded``; named
    here as a protocol, so that this package does not import the pipeline that imports it)."""

    work: Any  # .found.path: the file
    chunks: list[tuple[float | None, float | None, str]]
    boxes: list[tuple[float, float, float, float]]
    ocr_seconds: float | None
    ocr_cached: bool

log = logging.getLogger(__name__)


def ocr_enabled(mode: str) -> bool:
    """Whether ``--ocr MODE`` reads text in images here: ``on`` fails clearly without the
    package, ``auto`` goes without it (one log line), ``off`` never reads."""
    if mode == "off":
        return False
    if ocr_reader.available():
        return True
    if mode == "on":
        raise ocr_reader.OcrUnavailableError(
            f"--ocr on: reading text in images needs the rapidocr-onnxruntime package; install it "
            f"with `{ocr_reader.INSTALL_HINT}`, or index with --ocr off (or auto)"
        )
    log.warning("text in images is not read: rapidocr-onnxruntime is not installed (%s)", ocr_reader.INSTALL_HINT)
    return False


class ImageTexts:
    """Thread-safe: one instance serves all decode workers of a run."""

    def __init__(self, repo: DecodeCache, mode: str, max_chars: int,
                 reader: Callable[[], ocr_reader.TextReader] | None = None):
        self.repo = repo
        self.enabled = ocr_enabled(mode)
        self.max_chars = max_chars
        self._reader = reader or shared_reader
        self.source = ocr_reader.SOURCE

    def lookup(self, content_hash: str) -> list[Line] | None:
        """The cached lines of this picture; ``[]`` when OCR is off; None: to be read."""
        if not self.enabled:
            return []
        cached = self.repo.image_text(content_hash, self.source)
        return None if cached is None else [Line.from_json(x) for x in cached]

    def read(self, image: Image.Image) -> tuple[list[Line], float]:
        """Read ``image`` now: its lines and the seconds the models took (not cached here:
        the text phase saves the reading once its units are written, see :meth:`save`)."""
        return self._reader().read_timed(image)

    def save(self, content_hash: str, lines: list[Line]) -> None:
        self.repo.save_image_text(content_hash, self.source, [line.to_json() for line in lines])

    def attach(self, out: Decoding, content_hash: str, image: Image.Image, lines: list[Line] | None) -> None:
        """Put the picture's text blocks in ``out.chunks`` (with ``out.boxes``), reading the
        picture first when ``lines`` is None (and caching what was read). Only blocks that
        are language become units (:mod:`searchengine.ocr.language`); the cache keeps every
        line read, so a change of that judgement needs no new reading."""
        if not self.enabled:
            return
        if lines is None:
            try:
                lines, out.ocr_seconds = self._reader().read_timed(image)
            except ocr_reader.OcrUnavailableError:
                raise
            except Exception:  # an OCR failure costs this picture its text, not its place
                log.exception("reading the text in %s failed", out.work.found.path)
                return
            self.repo.save_image_text(content_hash, self.source, [line.to_json() for line in lines])
        else:
            out.ocr_cached = True
        for block in group_blocks(lines, self.max_chars):
            verdict = judge(block.text, block.score)  # as language_blocks()
            if not verdict:
                log.debug("text read in %s is not indexed (%s): %r", out.work.found.path, verdict.reason, block.text)
                continue
            out.chunks.append((None, None, block.text))
            out.boxes.append(block.box)

    def read_page(self, out: Decoding, key: str, image: Image.Image) -> str:
        """The text of a scanned document page (its blocks, in reading order, a blank line
        between them), cached under ``key`` like a picture's; "" with OCR off."""
        if not self.enabled:
            return ""
        cached = self.repo.image_text(key, self.source)
        if cached is not None:
            out.ocr_cached = True
            lines = [Line.from_json(x) for x in cached]
        else:
            lines, seconds = self._reader().read_timed(image)
            out.ocr_seconds = (out.ocr_seconds or 0.0) + seconds
            self.repo.save_image_text(key, self.source, [line.to_json() for line in lines])
        return "\n\n".join(block.text for block in group_blocks(lines, self.max_chars))


LANGUAGE_KEY = "ocr_language"  # index_state: the language judgement the text units were made with


def language_blocks(lines: list[Line], max_chars: int) -> list[str]:
    """The texts of the blocks of ``lines`` that are language: what becomes units."""
    return [b.text for b in group_blocks(lines, max_chars) if judge(b.text, b.score)]


def stale_pictures(repo: Repository, max_chars: int) -> set[str]:
    """Paths of indexed pictures whose text units were made under an older language judgement
    (or none: an index built before it) and differ from what it keeps now; empty once the
    index is up to date (recorded under ``LANGUAGE_KEY``). Re-indexing them re-embeds the
    picture from the cache's lines, without reading it again."""
    if repo.state(LANGUAGE_KEY) == LANGUAGE_VERSION:
        return set()
    stale = set()
    for (path, content_hash), texts in repo.ocr_texts().items():
        cached = repo.image_text(content_hash, ocr_reader.SOURCE)
        if cached is None:  # no lines to regroup: judge the stored texts as they are
            keep = [t for t in texts if judge(t)]
        else:
            keep = language_blocks([Line.from_json(x) for x in cached], max_chars)
        if keep != texts:
            stale.add(path)
    return stale


def mark_judged(repo: Repository) -> None:
    """Every text unit of the index is judged by the current language judgement."""
    repo.set_state(LANGUAGE_KEY, LANGUAGE_VERSION)


_reader_instance: ocr_reader.TextReader | None = None
_reader_lock = threading.Lock()


def shared_reader() -> ocr_reader.TextReader:
    """One reader per process: its models load once, on the first picture to read."""
    global _reader_instance
    with _reader_lock:
        if _reader_instance is None:
            _reader_instance = ocr_reader.TextReader()
        return _reader_instance
