"""Scoring a text query against a sound unit in *class space* (zero-shot audio
classification): the query's similarity to each of the 521 AudioSet classes, as a softmax
over the classes at temperature :data:`TEMPERATURE`, dotted with the event's own 521 class
scores (stored with the unit, revision 0009).

An event's vector (:mod:`searchengine.sounds.space`) says which classes it is, not how sure
the model was of each: 521 classes blended into a few hundred dimensions. The class scores
hold both, faint classes included: a 2.9 kHz trill whose best "Whistle" is 0.01 is still the
most whistle-like event of a library, and a melody heard as "Music" 0.95 is more music than a
bell heard as "Music" 0.32. The ranker adds this evidence to the cosine's on the one scale
(:mod:`searchengine.query.ranker`: each a z-score within the sound units, :data:`WEIGHT`).

A class's similarity to the query is the best of its names': its English name, each of the
comma-separated parts of it ("Beep, bleep" -> "Beep", "bleep"), and, where the text tower
reads Chinese (see :data:`searchengine.sounds.space.READS_CHINESE`), each of its Chinese
names ("闹钟、闹铃" -> 闹钟, 闹铃): "闹铃声" is near 闹铃 whether or not it is near the
English "Alarm clock". The names' vectors are made once per text tower and kept in the cache
folder, beside the class vectors (the indexer makes them with the first sound event).

:data:`TEMPERATURE` and :data:`WEIGHT` were chosen on the worked-on two thirds of the
benchmark's queries (benchmarks/bench_sounds.py; docs/sounds.md), never on its held-out third.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from searchengine.encoders.base import Encoder, encode_queries
from searchengine.sounds.classes import SYNONYMS, sound_classes
from searchengine.sounds.space import READS_CHINESE, _cache_file, _save

log = logging.getLogger(__name__)

TEMPERATURE = 0.005  # of the softmax over the classes' similarities to the query (cosines)
WEIGHT = 1.0  # the class-space z's share beside the cosine's z, for a sound unit
_memory: dict[int, tuple[Encoder, np.ndarray, np.ndarray]] = {}
_lock = threading.Lock()


def class_names(reads_chinese: bool = True) -> tuple[list[str], np.ndarray]:
    """Every name of every class (English, its comma parts, and with ``reads_chinese`` each
    Chinese name), and the class each belongs to."""
    table = sound_classes()
    names: list[str] = []
    owners: list[int] = []
    for i, english in enumerate(table.english):
        mine = [english] + [p.strip() for p in english.split(",") if "," in english]
        if reads_chinese and table.chinese[i]:
            mine += [p.strip() for p in table.chinese[i].split(SYNONYMS)]
        for name in dict.fromkeys(n for n in mine if n):
            names.append(name)
            owners.append(i)
    return names, np.asarray(owners, dtype=np.int64)


def compute_name_vectors(encoder: Encoder) -> tuple[np.ndarray, np.ndarray]:
    """(vectors of every class name, the class of each): Chinese names only where the tower
    reads Chinese (its usual Chinese names find their own English names among the 521 for at
    least :data:`READS_CHINESE` of the classes)."""
    table = sound_classes()
    english = encode_queries(encoder, list(table.english))
    chinese = encode_queries(encoder, list(table.chinese_first))
    reads_chinese = float((np.argmax(chinese @ english.T, axis=1) == np.arange(len(english))).mean()) >= READS_CHINESE
    names, owners = class_names(reads_chinese)
    return np.asarray(encode_queries(encoder, names), dtype=np.float32), owners


def name_vectors(encoder: Encoder, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's class-name vectors and their classes: from memory, from the cache folder,
    or computed (some 1,500 short texts, once per text tower)."""
    with _lock:
        held = _memory.get(id(encoder))
        if held is not None and held[0] is encoder:
            return held[1], held[2]
        base = _cache_file(encoder, cache_dir)
        path = base.with_name(base.stem + "-names.npy")
        owners_path = base.with_name(base.stem + "-names-classes.npy")
        try:
            vectors, owners = np.load(path), np.load(owners_path)
            if vectors.shape != (len(owners), encoder.dim) or not len(owners):
                raise ValueError("stale shape")
        except (OSError, ValueError):
            log.info("encoding the %s sound class names for %s (once)", "AudioSet", encoder.spec)
            vectors, owners = compute_name_vectors(encoder)
            _save(path, vectors)
            _save(owners_path, owners)
        _memory[id(encoder)] = (encoder, vectors, owners)
        return vectors, owners


def query_classes(query: np.ndarray, vectors: np.ndarray, owners: np.ndarray,
                  temperature: float | None = None) -> np.ndarray:
    """The query's weights over the 521 classes (they sum to 1): a softmax of each class's
    best name cosine with the query, at ``temperature``."""
    sims = vectors @ np.asarray(query, dtype=np.float32)
    best = np.full(int(owners.max()) + 1, -np.inf, dtype=np.float64)
    np.maximum.at(best, owners, sims.astype(np.float64))
    logits = (best - best.max()) / (temperature or TEMPERATURE)
    weights = np.exp(logits)
    return (weights / weights.sum()).astype(np.float32)


def class_z(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each unit's class-space score (``scores`` (n, 521) . ``weights``) as a z-score within
    the units: how far it stands above the *others'* mean (its own share taken out, as
    :meth:`searchengine.query.calibration.KindStats.z` does), in their standard deviations."""
    x = np.asarray(scores, dtype=np.float32) @ np.asarray(weights, dtype=np.float32)
    n = len(x)
    if n < 2:
        return np.zeros(n, dtype=np.float64)
    x = x.astype(np.float64)
    sd = max(float(x.std()), 1e-6)
    others = (x.sum() - x) / (n - 1)
    return (x - others) / sd


def combined_z(cos_z: np.ndarray | float, cls_z: np.ndarray | float, correlation: float,
               weight: float | None = None) -> np.ndarray | float:
    """``cos_z + weight * cls_z`` brought back to unit variance: the sum of two z-scores
    that correlate ``correlation`` over the units has variance 1 + w^2 + 2 w rho. A negative
    correlation is taken as none: with a handful of sound units it is noise (two units
    correlate -1 or +1 whatever they are), and it would inflate every sound unit's z
    against the other kinds' (at -1 and w 1, without bound)."""
    weight = WEIGHT if weight is None else weight
    rho = min(1.0, max(0.0, correlation))
    return (cos_z + weight * cls_z) / float(np.sqrt(max(1.0 + weight * weight + 2.0 * weight * rho, 1e-6)))
