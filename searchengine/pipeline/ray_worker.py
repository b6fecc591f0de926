"""What runs on the Ray workers: a class-based Ray Data UDF that loads the model once (in
its constructor) and turns a batch of files to embed into their vectors, with the same
:class:`~searchengine.pipeline.decode.Decoder` and
:func:`~searchengine.pipeline.encode.encode_batch` as the in-process run (so the vectors
are the same). Workers never touch the index: SQL stays with the driver's single writer.
Transcripts known to the index travel with the work; new ones travel back with the result.

A row is one batch of files, the same batches as the in-process run makes:
Rows in:  ``i`` (the batch's number), ``work`` (a pickled list of :class:`Work`),
          ``transcript`` (a pickled list, per file: ``(source, (segments, language))``
          known to the index, or None)
Rows out: ``i``, ``result`` (a pickled list of :class:`WorkerResult`), ``fatal`` (a
          pickled error that stops the run, or empty)
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.errors import SearchEngineError
from searchengine.pipeline.decode import Decoded, Decoder
from searchengine.pipeline.encode import encode_batch
from searchengine.pipeline.plan import Work
from searchengine.store.caches import DecodeCache, TranscriptEntry
from searchengine.transcribe.segments import Segment
from searchengine.transcribe.whisper import WhisperTranscriber

log = logging.getLogger(__name__)

Transcript = TranscriptEntry


@dataclass(frozen=True)
class WorkerEncoder:
    """The encoder every worker loads: the index's model at its concrete precision (the one
    the index's manifest records), so that the vectors match the in-process run's."""

    spec: str
    device: str  # as set (auto, cpu, cuda); a worker without a GPU resolves auto to cpu
    precision: str
    cache_dir: Path | None

    def load(self) -> Encoder:
        from searchengine.encoders.registry import load_encoder
        from searchengine.encoders.torch_device import resolve_device

        device, precision = self.device, self.precision
        # the same rule as SearchEngine._load_encoder: int8 graphs run on the CPU; an fp16
        # index on a machine without a GPU is encoded in fp32
        if precision == "int8":
            device = "cpu"
        elif precision == "fp16" and resolve_device(device) == "cpu":
            precision = "fp32"
        return load_encoder(self.spec, device, precision, self.cache_dir)


def runs_on_gpu(spec: str, precision: str) -> bool:
    """Whether an actor of this model at this precision uses a GPU it is given: int8 graphs
    and the multilingual offline profile (a CPU text engine) run on CPUs."""
    from searchengine.encoders.registry import OFFLINE_PROFILE

    return precision != "int8" and spec.strip() != OFFLINE_PROFILE


@dataclass
class WorkerResult:
    """One file's outcome, shipped back to the driver."""

    decoded: Decoded  # its prepared images replaced by None (the writer only counts them)
    vectors: np.ndarray
    new_transcript: tuple[str, str, list[Segment], str | None, float] | None = None  # for repo.save_transcript
    new_image_text: tuple[str, str, list[dict]] | None = None  # for repo.save_image_text
    encode_seconds: float = 0.0  # this file's share of its batch's encoding time
    worker: dict[str, str] = field(default_factory=dict)  # where it ran (host, pid, package)


class _ShippedTranscripts(DecodeCache):
    """A Ray worker's :class:`~searchengine.store.caches.DecodeCache`: what :class:`Decoder`
    asks of the caches, answered from what the driver shipped (a worker on another machine
    cannot reach the index's database), and what it saves kept to travel back with the
    result. (Transcripts, and the text read in images and scanned pages.)"""

    def __init__(self, known: dict[str, Transcript], texts: dict[str, list[dict]]):
        self._known = known
        self._texts = texts
        self.saved: dict[str, tuple[str, str, list[Segment], str | None, float]] = {}
        self.saved_texts: dict[str, tuple[str, str, list[dict]]] = {}

    def image_text(self, content_hash: str, source: str) -> list[dict] | None:
        return self._texts.get(content_hash)

    def save_image_text(self, content_hash: str, source: str, lines: list[dict]) -> None:
        self.saved_texts[content_hash] = (content_hash, source, lines)

    def transcript(self, content_hash: str, source: str) -> Transcript | None:
        return self._known.get(transcript_key(content_hash, source))

    def save_transcript(self, content_hash: str, source: str, segments: list[Segment],
                        language: str | None, duration: float) -> None:
        self.saved[content_hash] = (content_hash, source, segments, language, duration)


def transcript_key(content_hash: str, source: str) -> str:
    return f"{content_hash}\0{source}"


class DecodeEncodeActor:
    """The Ray Data UDF: ``map_batches(DecodeEncodeActor, fn_constructor_args=(settings,
    encoder))``. Files of a batch decode on ``settings.decode_workers`` threads; encoding is
    one call at a time per actor (a second batch may decode meanwhile)."""

    def __init__(self, settings: Settings, encoder: WorkerEncoder):
        t0 = time.perf_counter()
        self.settings = settings
        self._failed: SearchEngineError | None = None
        try:
            self.encoder: Encoder = encoder.load()
        except SearchEngineError as exc:  # raised from the first batch: an actor that dies in its
            self._failed = exc            # constructor loses the reason on the way to the driver
            log.error("worker cannot load %s: %s", encoder.spec, exc)
            return
        self.dim = self.encoder.dim
        self._transcriber: WhisperTranscriber | None = None
        self._lock = threading.Lock()  # the transcriber's loading
        self._encode_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(settings.decode_workers)
        import searchengine

        self.where = {"host": socket.gethostname(), "pid": str(os.getpid()),
                      "package": str(Path(searchengine.__file__).resolve().parent)}
        log.info("worker %s ready: %s in %.1fs", self.where, encoder.spec, time.perf_counter() - t0)

    def _get_transcriber(self) -> WhisperTranscriber:
        with self._lock:
            if self._transcriber is None:
                s = self.settings
                self._transcriber = WhisperTranscriber(s.asr_model, s.cache_dir, s.device, s.language)
            return self._transcriber

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each row is one batch of the in-process run (the same files, in the same order:
        an int8 model's vectors depend on what they are encoded with). Its results; or, when
        a reason to stop the run came up (a model that cannot load), that error in the
        ``fatal`` column: raised here, Ray would hand the driver its text only, not the typed
        error."""
        n = len(batch["i"])
        try:
            if self._failed is not None:
                raise self._failed
            results = [self._run(works, shipped, texts)
                       for works, shipped, texts in zip(batch["work"], batch["transcript"], batch["image_text"])]
        except SearchEngineError as exc:
            fatal = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
            return {"i": np.asarray(batch["i"]), "result": np.array([b""] * n, dtype=object),
                    "fatal": np.array([fatal] * n, dtype=object)}
        return {"i": np.asarray(batch["i"]), "result": np.array(results, dtype=object),
                "fatal": np.array([b""] * n, dtype=object)}

    def _run(self, pickled_works: bytes, pickled_transcripts: bytes, pickled_texts: bytes) -> bytes:
        works: list[Work] = pickle.loads(pickled_works)
        known: dict[str, Transcript] = {}
        texts: dict[str, list[dict]] = {}
        for w, shipped, lines in zip(works, pickle.loads(pickled_transcripts), pickle.loads(pickled_texts)):
            if shipped is not None:
                source, transcript = shipped
                known[transcript_key(w.content_hash, source)] = transcript
            if lines is not None:
                texts[w.content_hash] = lines
        store = _ShippedTranscripts(known, texts)
        decoder = Decoder(store, self.settings, lambda: self.encoder, self._get_transcriber)
        decoded = list(self._pool.map(decoder, works))
        with self._encode_lock:
            t0 = time.perf_counter()
            vectors = encode_batch(lambda: self.encoder, decoded, self.dim, self.settings.batch_size,
                                   self.settings.cache_dir)
            share = (time.perf_counter() - t0) / max(1, len(decoded))
        out = []
        for d, v in zip(decoded, vectors):
            d.images = [None] * len(d.images)  # prepared pixels stay here; the writer counts them
            out.append(WorkerResult(d, v, store.saved.get(d.work.content_hash),
                                    store.saved_texts.get(d.work.content_hash), share, self.where))
        return pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)


def shipped_results(batch: dict[str, Any]) -> list[WorkerResult]:
    """A batch of rows out, unpickled; the error that stops the run, if a worker sent one."""
    for fatal in batch["fatal"]:
        if fatal:
            error = pickle.loads(fatal)
            assert isinstance(error, SearchEngineError)
            raise error
    results = [r for raw in batch["result"] for r in pickle.loads(raw)]
    assert all(isinstance(r, WorkerResult) for r in results)
    return results
