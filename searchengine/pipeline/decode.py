"""Stage 2, decode: turn one file into what the encoder takes. Images are decoded (JPEG at
reduced scale) and prepared (resize, crop, normalise) here, in worker threads, so that the
encoder never waits for them; text is chunked; recordings get their transcript (sidecar,
cache or speech recognition); videos their key frames and transcript (pipeline.decode_video).
A file that cannot be decoded comes out with its reason."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tqdm import tqdm

from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.errors import MediaDecodeError, ModelUnavailableError
from searchengine.media.audio import SAMPLE_RATE, decode_audio, probe_duration
from searchengine.media.images import load_image
from searchengine.media.formats.base import Budget
from searchengine.media.photo_facts import read_photo_facts, video_taken
from searchengine.media.places import nearest_place
from searchengine.media.kinds import RECORDINGS, format_of
from searchengine.media.sidecar import parse_sidecar
from searchengine.media.text import chunk_text
from searchengine.ocr.stage import ImageTexts
from searchengine.sounds.events import SoundEvent
from searchengine.sounds.stage import SoundEvents
from searchengine.media.pathnames import display_path
from searchengine.media.regular import pinned
from searchengine.pipeline.decode_video import decode_video
from searchengine.pipeline.plan import Work
from searchengine.store.caches import DecodeCache
from searchengine.store.repository import FileFacts
from searchengine.transcribe.segments import Segment, group_windows
from searchengine.transcribe.whisper import WhisperTranscriber

log = logging.getLogger(__name__)


@dataclass
class Decoded:
    work: Work
    images: list[Any] = field(default_factory=list)  # prepared by the encoder
    chunks: list[tuple[float | None, float | None, str]] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # of an image's text chunks
    pages: list[int | None] = field(default_factory=list)  # of a document's chunks (empty: no pages)
    facts: FileFacts | None = None  # photos, videos: when, where, what camera (read from the file)
    place: str | None = None  # a photo's place names: its last chunk, written as a "place" unit
    error: str | None = None
    kept: bool = False  # an indexed file that could not be read now: its old vectors stay
    decode_seconds: float = 0.0
    preprocess_seconds: float = 0.0
    transcribed_seconds: float | None = None  # set when speech recognition ran
    transcript_cached: bool = False
    ocr_seconds: float | None = None  # set when the image's text was read (OCR ran)
    ocr_cached: bool = False  # the image's text came from the cache
    frame_spans: list[tuple[float, float]] = field(default_factory=list)  # video: (start, end) of each image
    frames_decoded: int = 0  # video: frames the decoder produced, in frames_seconds
    frames_seconds: float = 0.0
    video_seconds: float = 0.0  # video: its duration
    sounds: list[SoundEvent] = field(default_factory=list)  # sound events of a recording or a video's sound
    sound_seconds: float | None = None  # set when sound events were looked for: the time it took
    audio_seconds: float = 0.0  # seconds of audio decoded (for sound events and speech recognition)


class Decoder:
    """Thread-safe: one instance serves all decode workers."""

    def __init__(self, repo: DecodeCache, settings: Settings, encoder: Callable[[], Encoder],
                 transcriber: Callable[[], WhisperTranscriber] | None = None):
        self.repo = repo
        self.settings = settings
        self._encoder = encoder
        self._transcriber = transcriber
        self.asr_bar: tqdm | None = None
        self.texts = ImageTexts(repo, settings.ocr, settings.chunk_chars)
        self.sounds = SoundEvents(settings.sounds, settings.sound_model, settings.cache_dir)
        # True: a photo whose text is not cached is embedded without reading it, and the
        # text phase (pipeline.read_text) reads it after the stream; False: read here
        self.read_text_later = False

    @property
    def asr_source(self) -> str:
        return f"asr:{self.settings.asr_model}"

    def __call__(self, work: Work) -> Decoded:
        with pinned(work.found.pins()):  # every read opens the file the walk found, or fails
            return self._decode(work)

    def _decode(self, work: Work) -> Decoded:
        t0 = time.perf_counter()
        f = work.found
        out = Decoded(work)
        try:
            if f.size == 0:
                raise MediaDecodeError(f"{display_path(f.path)}: empty file (0 bytes)")
            if f.modality == "image":
                encoder = self._encoder()
                lines = self.texts.lookup(work.content_hash)  # None: not read yet
                later = lines is None and self.read_text_later  # the text phase reads it
                # the vector always comes from the picture decoded at the model's size, so that it
                # is the same whether its text is read here (Ray workers, a cached reading) or in
                # the text phase; the reader gets the picture at full size
                image = load_image(f.path, min_side=encoder.input_side)
                t1 = time.perf_counter()
                out.images.append(encoder.prepare_image(image))
                out.preprocess_seconds = time.perf_counter() - t1
                if not later:
                    full = load_image(f.path) if lines is None else image
                    self.texts.attach(out, work.content_hash, full, lines)
                out.facts, out.place = photo_facts(f.path)
                if out.place:
                    out.chunks.append((None, None, out.place))
            elif f.modality == "text":
                self._document(work, out)
            elif f.modality == "audio":
                audio = _Audio(f.path, out)
                segments = self._transcript(work, out, audio)
                out.chunks = [(w.start, w.end, w.text) for w in group_windows(segments)]
                self._sounds(out, audio)
            elif f.modality == "video":
                out.facts = FileFacts(taken_ns=video_taken(f.path))
                audio = _Audio(f.path, out)
                decode_video(out, self.settings, self._encoder, lambda: self._transcript(work, out, audio),
                             lambda: self._sounds(out, audio))
            else:  # pragma: no cover - discover only yields known modalities
                raise MediaDecodeError(f"{display_path(f.path)}: unsupported modality {f.modality}")
        except MediaDecodeError as exc:
            out.error = str(exc)
            out.kept = _transient(exc) and work.known is not None and work.known.status == "indexed"
        except ModelUnavailableError:
            raise  # not this file's fault: stop the run with the reason
        except Exception as exc:  # a decoder bug or an exotic file must not stop the run
            log.exception("unexpected error decoding %s", display_path(f.path))
            out.error = f"{display_path(f.path)}: unexpected error while decoding: {type(exc).__name__}: {exc}"
        out.decode_seconds = (time.perf_counter() - t0 - out.preprocess_seconds - (out.ocr_seconds or 0.0)
                              - (out.sound_seconds or 0.0))
        return out

    def _document(self, work: Work, out: Decoded) -> None:
        """A note or document: its sections (pages, slides, chapters; one for a note)
        chunked each on its own, so that no passage crosses a page; a scanned page is read
        by the OCR (cached by the file's hash and the page number)."""
        f = work.found
        fmt = format_of(f.path)
        assert fmt is not None and fmt.read is not None, "discover only yields known formats"
        budget = Budget(f.path)
        sections = fmt.read(f.path, budget)
        scanned = 0
        for section in sections:
            text = section.text
            if section.image is not None:
                scanned += 1
                key = hashlib.sha256(f"{work.content_hash}:page:{section.page}".encode()).hexdigest()
                text = self.texts.read_page(out, key, section.image)
                section.image = None
                budget.check_time()
            for c in chunk_text(text, self.settings.chunk_chars, self.settings.chunk_overlap):
                out.chunks.append((float(c.start), float(c.end), c.text))
                out.pages.append(section.page)
        if not out.chunks:
            why = "no text in file"
            if scanned and not self.texts.enabled:
                why = "no text layer (scanned pages) and text reading (OCR) is off"
            elif scanned:
                why = "no text layer, and none read in its scanned pages"
            raise MediaDecodeError(f"{display_path(f.path)}: {why}")
        if not any(p is not None for p in out.pages):
            out.pages = []

    def asr_seconds(self, work: list[Work]) -> float:
        """Seconds of audio that speech recognition will get, for the progress bar."""
        total = 0.0
        for w in work:
            f = w.found
            if f.modality in RECORDINGS and f.sidecar is None and self.repo.transcript(w.content_hash, self.asr_source) is None:
                try:
                    with pinned(f.pins()):
                        total += probe_duration(f.path)
                except MediaDecodeError:
                    pass  # decoding will say why
        return total

    def _sounds(self, out: Decoded, audio: "_Audio") -> None:
        """The recording's sound events into ``out.sounds`` (when enabled). A failure costs the
        file its sound events, not its place (as text in images)."""
        if not self.sounds.enabled:
            return
        try:
            out.sounds, out.sound_seconds = self.sounds.detect(audio())
        except ModelUnavailableError:
            raise  # not this file's fault: stop the run with the reason
        except MediaDecodeError as exc:
            log.warning("%s; its sound events are not indexed", exc)
        except Exception:
            log.exception("finding the sound events of %s failed", display_path(out.work.found.path))

    def _transcript(self, work: Work, out: Decoded, audio: "_Audio") -> list[Segment]:
        """Timed segments: from the sidecar, from the cache, or from speech recognition."""
        f, digest = work.found, work.content_hash
        source = "sidecar" if f.sidecar is not None else self.asr_source
        cached = self.repo.transcript(digest, source)
        if cached is not None:
            out.transcript_cached = True
            return cached[0]
        if f.sidecar is not None:
            duration = probe_duration(f.path)
            segments, language = parse_sidecar(f.sidecar, duration), None
        else:
            assert self._transcriber is not None, "the engine always gives the pipeline a transcriber"
            samples = audio()
            duration = len(samples) / SAMPLE_RATE
            bar = self.asr_bar
            segments, language = self._transcriber().transcribe(
                samples, on_progress=(lambda s: bar.update(round(s, 1))) if bar is not None else None
            )
            out.transcribed_seconds = duration
        self.repo.save_transcript(digest, source, segments, language, duration)
        return segments


def photo_facts(path: Path) -> tuple[FileFacts, str | None]:
    """A photo's facts for its row, and its place's names (None without GPS or far from
    any town)."""
    facts = read_photo_facts(path)
    place = nearest_place(facts.latitude, facts.longitude) if facts.latitude is not None and facts.longitude is not None else None
    return (FileFacts(taken_ns=facts.taken_ns, latitude=facts.latitude, longitude=facts.longitude,
                      place=place.text() if place else None, camera=facts.camera),
            place.text() if place else None)


class _Audio:
    """A file's sound as 16 kHz mono, decoded on first use and once (speech recognition and
    sound events share it)."""

    def __init__(self, path: Path, out: Decoded):
        self._path, self._out = path, out
        self._samples: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._samples is None:
            self._samples = decode_audio(self._path)
            self._out.audio_seconds = len(self._samples) / SAMPLE_RATE
        return self._samples


def _transient(exc: MediaDecodeError) -> bool:
    """A read error of the system (I/O error, permission, a vanished mount), not a file that
    is broken: worth keeping what was indexed and trying again next run."""
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno is not None and not isinstance(cause, MediaDecodeError)
