"""One relevance scale for every kind of unit.

In a joint space the raw cosine is not comparable across kinds: a text query's cosine with
any text (a note, a transcript window, words read in a photo) runs far above its cosine with
any picture (the modality gap of contrastive and ConSE spaces alike). So a hit is ranked by
how far its cosine stands above what *this query* scores against units of *its kind*:

    z = (cos(q, v) - q . m_k) / sqrt(q^T C_k q)

where ``m_k`` and ``C_k`` are the mean vector and covariance of the index's own units of
kind ``k``. ``q . m_k`` is exactly the query's mean cosine over the kind and ``q^T C_k q``
its variance, so ``z`` is the query's own z-score within the kind - computed in O(d^2) per
kind from two statistics the index keeps, with no probe set and nothing fitted on
evaluation data.

A small kind's statistics are shrunk towards a prior worth :data:`SHRINK_UNITS` units, so eight
notes do not make a degenerate scale. A kind's prior is what the *other* kinds of its tower
say: their pooled mean, and their pooled covariance plus an isotropic covariance of the same
total variance (:data:`PICTURE_KINDS` come from the image tower; every other kind from the
text tower: notes, transcript windows, text read in photos, place names, sound labels). The
isotropic part covers the directions the mates never spanned: tens of units span tens of the
space's hundreds of directions, and a query about cows points mostly elsewhere. A kind alone
in its tower is shrunk towards an isotropic covariance of its own total variance.

Why a prior from the tower: eight notes alone say little about how far a query about cows
stands above unrelated text along the query's own direction, and text-text cosines run high
in a joint space; with an isotropic prior alone, a note about walking a dog outranked the
photos of cows (a mixed library of 80 COCO photos, 8 notes, 32 recordings and 20 sign photos:
text→photo R@1 0.247 with the isotropic prior, 0.323 with the tower's, against 0.325 for
vector search among the photos alone; docs/ranking.md).

``relevance(z)`` maps z to 0..1 (a logistic centred at :data:`Z_STRONG`): 0.5 is where a
match becomes *strong* - about 1 in 1,000 unrelated units of a kind reach it.

The statistics are measured from a sample of each kind's vectors (at most
:data:`SAMPLE_PER_KIND`), written by the indexer at the end of a run that changed the index
(``calibration.npz`` in the index folder, stamped with the counts it was measured at), and
measured again in memory by a reader whose counts drifted more than :data:`STALE_SHARE`
from the file's."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_PER_KIND = 20_000
SHRINK_UNITS = 32  # pseudo-units of isotropic covariance added to every kind's own
STALE_SHARE = 0.1  # a kind whose count changed by more than this share is measured again
Z_STRONG = 3.0  # z where relevance is 0.5 and a hit is strong (Gaussian tail: ~0.13%)
Z_SLOPE = 1.5  # relevance = 1 / (1 + exp(-Z_SLOPE * (z - Z_STRONG)))
FORMAT = 2
PICTURE_KINDS = frozenset({"image", "frame"})
"""Kinds embedded by the image tower; every other kind comes from the text tower."""


def relevance(z: float) -> float:
    """A z-score on the calibrated scale as a relevance in (0, 1); 0.5 at :data:`Z_STRONG`."""
    x = Z_SLOPE * (z - Z_STRONG)
    if x < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class KindStats:
    """The mean vector and covariance of one kind's unit vectors, shrunk towards a prior;
    ``weight``: how many units the mean stands for (the kind's sampled units, plus
    :data:`SHRINK_UNITS` when it was shrunk towards other kinds' mean)."""

    count: int
    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)
    weight: float = 0.0

    @classmethod
    def measure(cls, vectors: np.ndarray, count: int | None = None,
                prior: "_Moments | None" = None) -> "KindStats":
        """Statistics of ``vectors`` (a sample of the kind's ``count`` units), shrunk
        towards ``prior`` (the moments of the other kinds of its tower) or, without one,
        towards an isotropic covariance."""
        own = _Moments.of(np.asarray(vectors, dtype=np.float64))
        n = own.n
        if prior is None or prior.n == 0:
            mean, target = own.mean, own.isotropic()
            weight = float(n)
        else:
            mean = (n * own.mean + SHRINK_UNITS * prior.mean) / (n + SHRINK_UNITS)
            # the mates' covariance in the directions they span, plus an isotropic part of
            # the same total variance for the directions a sample of tens of units never saw
            target = prior.cov + prior.isotropic()
            weight = float(n + SHRINK_UNITS)
        shrunk = (n * own.cov + SHRINK_UNITS * target) / (n + SHRINK_UNITS)
        return cls(count if count is not None else n, mean.astype(np.float32), shrunk.astype(np.float32), weight)

    @property
    def sampled(self) -> int:
        """How many units the statistics were measured from."""
        return min(self.count, SAMPLE_PER_KIND)

    def baseline(self, query: np.ndarray) -> tuple[float, float]:
        """(mean, standard deviation) of this query's cosine over the kind."""
        q = np.asarray(query, dtype=np.float32)
        mu = float(q @ self.mean)
        var = float(q @ self.cov @ q)
        return mu, math.sqrt(max(var, 1e-12))

    def z(self, similarity: float, baseline: tuple[float, float]) -> float:
        """How far ``similarity`` stands above the *other* units of the kind, in standard
        deviations: the unit's own share is taken out of the mean (it matters in a kind of a
        few units - five notes - and vanishes in a large one)."""
        mu, sd = baseline
        n = self.weight or self.sampled
        if n >= 2:
            mu = (n * mu - similarity) / (n - 1)
        return (similarity - mu) / sd


@dataclass
class Calibration:
    """Statistics of every kind present in the index."""

    kinds: dict[str, KindStats]

    def baselines(self, query: np.ndarray) -> dict[str, tuple[float, float]]:
        return {kind: stats.baseline(query) for kind, stats in self.kinds.items()}

    def picture_mean(self) -> np.ndarray | None:
        """The mean vector of the image tower's units (photos and video frames), or None
        when the index holds none."""
        parts = [(stats.count, stats.mean) for kind, stats in self.kinds.items() if kind in PICTURE_KINDS]
        total = sum(n for n, _ in parts)
        if not total:
            return None
        return (np.sum([n * m.astype(np.float64) for n, m in parts], axis=0) / total).astype(np.float32)

    def fresh_for(self, counts: Mapping[str, int]) -> bool:
        """Whether these statistics still describe an index with ``counts`` units per kind."""
        if set(k for k, n in counts.items() if n) != set(self.kinds):
            return False
        for kind, stats in self.kinds.items():
            n = counts.get(kind, 0)
            if abs(n - stats.count) > STALE_SHARE * max(stats.count, 1):
                return False
        return True

    # -- measuring, saving, loading ------------------------------------------------------

    @classmethod
    def measure(cls, ids_by_kind: Mapping[str, np.ndarray],
                vectors_of: Callable[[list[int]], np.ndarray], seed: int = 0) -> "Calibration":
        """Measure every kind from at most :data:`SAMPLE_PER_KIND` of its units, drawn at
        random; ``vectors_of(ids)`` reads their vectors (rows in the order asked)."""
        rng = np.random.default_rng(seed)
        samples: dict[str, np.ndarray] = {}
        for kind, ids in ids_by_kind.items():
            if len(ids) == 0:
                continue
            chosen = ids if len(ids) <= SAMPLE_PER_KIND else rng.choice(ids, SAMPLE_PER_KIND, replace=False)
            vectors = vectors_of(sorted(int(i) for i in chosen))
            if len(vectors):
                samples[kind] = np.asarray(vectors, dtype=np.float64)
        moments = {kind: _Moments.of(x) for kind, x in samples.items()}
        kinds = {}
        for kind, x in samples.items():
            mates = [m for other, m in moments.items()
                     if other != kind and (other in PICTURE_KINDS) == (kind in PICTURE_KINDS)]
            kinds[kind] = KindStats.measure(x, count=len(ids_by_kind[kind]),
                                            prior=_Moments.pooled(mates) if mates else None)
        return cls(kinds)

    def save(self, path: Path) -> None:
        """Atomically (a temporary file renamed over the old)."""
        arrays: dict[str, np.ndarray] = {"format": np.asarray([FORMAT])}
        for kind, stats in self.kinds.items():
            arrays[f"{kind}.count"] = np.asarray([stats.count])
            arrays[f"{kind}.mean"] = stats.mean
            arrays[f"{kind}.cov"] = stats.cov
            arrays[f"{kind}.weight"] = np.asarray([stats.weight])
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "Calibration | None":
        """The saved statistics, or None when there are none (or they cannot be read: they
        are measured again, never trusted half-read)."""
        try:
            with np.load(path) as data:
                if int(data["format"][0]) != FORMAT:
                    return None
                names = {key.split(".", 1)[0] for key in data.files if key != "format"}
                return cls({kind: KindStats(int(data[f"{kind}.count"][0]), data[f"{kind}.mean"].astype(np.float32),
                                            data[f"{kind}.cov"].astype(np.float32), float(data[f"{kind}.weight"][0]))
                            for kind in names})
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged file is measured again
            log.warning("ignoring %s (%s); measuring the calibration again", path, exc)
            return None


@dataclass(frozen=True)
class _Moments:
    """Count, mean and covariance (divided by n) of a set of vectors."""

    n: int
    mean: np.ndarray
    cov: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> "_Moments":
        n, d = x.shape
        mean = x.mean(axis=0)
        centred = x - mean
        return cls(n, mean, centred.T @ centred / max(n, 1))

    @classmethod
    def pooled(cls, parts: list["_Moments"]) -> "_Moments":
        """The moments of the union of the sets ``parts`` describe."""
        n = sum(p.n for p in parts)
        mean = np.sum([p.n * p.mean for p in parts], axis=0) / n
        cov = np.sum([p.n * (p.cov + np.outer(p.mean - mean, p.mean - mean)) for p in parts], axis=0) / n
        return cls(n, mean, cov)

    def isotropic(self) -> np.ndarray:
        """The isotropic covariance of the same total variance."""
        d = self.cov.shape[0]
        return max(float(np.trace(self.cov)) / d, 1e-6 / d) * np.eye(d)
