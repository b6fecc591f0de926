"""Recall@K from ranked, scored results. Ties are broken pessimistically: a correct result
tied in score with wrong ones ranks after all of them, so a model cannot gain from ties."""

from __future__ import annotations

import math
from typing import Hashable, Iterable, Sequence

TIE_TOLERANCE = 1e-6


def rank_of_correct(results: Sequence[tuple[Hashable, float]], correct: set) -> float:
    """1-based rank of the best-ranked correct target among ``results`` — (target, score)
    pairs, best first, one per target — counting every target scored at least as high;
    ``inf`` when no correct target is among them."""
    best = max((score for target, score in results if target in correct), default=None)
    if best is None:
        return math.inf
    wrong_at_least_as_good = sum(1 for t, s in results if t not in correct and s >= best - TIE_TOLERANCE)
    return 1 + wrong_at_least_as_good


def rank_in_list(results: Sequence[tuple[Hashable, float]], correct: set) -> float:
    """1-based rank of the first correct target in ``results`` as they are shown (one per
    target, in the order a user sees them, whatever their scores), counting against it every
    wrong target listed after it with the same score; ``inf`` when none is correct."""
    for position, (target, score) in enumerate(results):
        if target in correct:
            tied = sum(1 for t, s in results[position + 1:] if t not in correct and abs(s - score) <= TIE_TOLERANCE)
            return position + 1 + tied
    return math.inf


def recall_at(ranks: Iterable[float], ks: Sequence[int]) -> dict[str, float]:
    ranks = list(ranks)
    if not ranks:
        return {f"R@{k}": float("nan") for k in ks}
    return {f"R@{k}": sum(r <= k for r in ranks) / len(ranks) for k in ks}


def unique_targets(pairs: Iterable[tuple[Hashable, float]]) -> list[tuple[Hashable, float]]:
    """Keep each target's best score (audio windows and text chunks map many hits to one)."""
    seen: dict[Hashable, float] = {}
    for target, score in pairs:
        if target not in seen:
            seen[target] = score
    return list(seen.items())
