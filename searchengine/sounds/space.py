"""Sound events in the index's joint space: an event's vector is the score-weighted blend of
its classes' name vectors (ConSE, as the offline profiles map ImageNet classes), made by
the index's own text tower - offline profiles and open_clip alike.

The blend's weights are shares of their sum, so they say which classes an event is, not how
sure the model was: an event whose best class scored 0.32 ("Music", a synthetic bell) would
point at "music" as squarely as one that scored 0.95 (a melody). The doubt, one less the best
score, is therefore added as a share of a *generic* direction (the mean of the event classes'
vectors: "a sound"), ``DOUBT`` times it: a weak event is less specifically its classes, and a
confident one of the same class ranks above it (docs/sounds.md).

A class's vector is its English name's, averaged with its (first) Chinese name's when the text tower
reads Chinese (a Chinese name finds its own English name among the 521 for at least
``READS_CHINESE`` of the classes: e5 does, an English-only CLIP or MiniLM does not, and
there the Chinese names would only blur the English ones). The 521 vectors are computed once
per model and kept in the cache folder (keyed by the model's spec, precision, a fingerprint
of its text tower and the name tables)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from searchengine.encoders.base import Encoder, encode_queries, l2_normalise
from searchengine.sounds.classes import sound_classes
from searchengine.sounds.events import SoundEvent

log = logging.getLogger(__name__)

READS_CHINESE = 0.2
DOUBT = 1.0  # the generic direction's share of an event's vector, per unit of doubt (1 - best score)
FINGERPRINT_TEXT = "a dog barking in the rain"
_memory: dict[int, tuple[Encoder, np.ndarray]] = {}
_lock = threading.Lock()


def _cache_file(encoder: Encoder, cache_dir: Path) -> Path:
    table = sound_classes()
    probe = np.round(encode_queries(encoder, [FINGERPRINT_TEXT])[0], 4).tobytes()
    key = hashlib.sha256(b"|".join([
        str(encoder.spec).encode(), str(encoder.precision).encode(), str(encoder.dim).encode(), probe,
        "\n".join(table.english + table.chinese).encode(),
    ])).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(encoder.spec))[:50].strip("-")
    return Path(cache_dir).expanduser() / "sound_classes" / f"{slug}-{key}.npy"


def compute_class_vectors(encoder: Encoder) -> tuple[np.ndarray, bool]:
    """(521, dim) class vectors, and whether the Chinese names went into them."""
    table = sound_classes()
    english = encode_queries(encoder, list(table.english))
    chinese = encode_queries(encoder, list(table.chinese_first))
    found = np.argmax(chinese @ english.T, axis=1) == np.arange(len(english))
    reads_chinese = float(found.mean()) >= READS_CHINESE
    log.info("sound classes for %s: Chinese names find their English ones %.0f%% of the time%s",
             encoder.spec, 100 * found.mean(), "" if reads_chinese else " (English names alone are used)")
    return (l2_normalise(english + chinese) if reads_chinese else english), reads_chinese


def class_vectors(encoder: Encoder, cache_dir: Path) -> np.ndarray:
    """The encoder's 521 class vectors: from memory, from the cache folder, or computed."""
    with _lock:
        held = _memory.get(id(encoder))
        if held is not None and held[0] is encoder:
            return held[1]
        path = _cache_file(encoder, cache_dir)
        try:
            vectors = np.load(path)
            if vectors.shape != (len(sound_classes().english), encoder.dim):
                raise ValueError("stale shape")
        except (OSError, ValueError):
            vectors, _ = compute_class_vectors(encoder)
            _save(path, vectors)
        _memory[id(encoder)] = (encoder, vectors)
        return vectors


def _save(path: Path, vectors: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".npy", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, vectors)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache: computed again next time, nothing lost
        log.warning("cannot keep the sound class vectors in %s: %s", path.parent, exc)


def event_vectors(encoder: Encoder, events: Sequence[SoundEvent], cache_dir: Path) -> np.ndarray:
    """One L2-normalised vector an event: its classes' vectors weighted by their shares of
    its scores, plus the generic direction weighted by its doubt (see the module's doc)."""
    if not events:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    vectors = class_vectors(encoder, cache_dir)
    generic = generic_vector(vectors)
    out = np.zeros((len(events), vectors.shape[1]), dtype=np.float32)
    for row, event in enumerate(events):
        if event.classes:
            weights = np.asarray(event.weights, dtype=np.float32)
            doubt = max(0.0, 1.0 - float(weights.max()))
            out[row] = (weights / weights.sum()) @ vectors[list(event.classes)] + DOUBT * doubt * generic
    return l2_normalise(out)


def generic_vector(vectors: np.ndarray) -> np.ndarray:
    """"A sound": the L2-normalised mean of the event classes' vectors (``vectors``: all 521)."""
    return l2_normalise(vectors[sound_classes().events].mean(axis=0, keepdims=True))[0]
