"""Queries: a query vector → FAISS top-k → SQL rows → filtered, ranked hits."""

from __future__ import annotations

import fnmatch
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from searchengine.errors import InvalidInputError
from searchengine.hits import Hit
from searchengine.media.kinds import MODALITIES
from searchengine.store.repository import Repository, UnitRow
from searchengine.vectors.faiss_index import VectorIndex


class Searcher:
    def __init__(self, repo: Repository, vectors: VectorIndex):
        self.repo = repo
        self.vectors = vectors

    def search(
        self,
        query: np.ndarray,
        k: int = 10,
        *,
        offset: int = 0,
        modality: str | Sequence[str] | None = None,
        path_glob: str | None = None,
        exclude_ids: Sequence[int] = (),
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
    ) -> list[Hit]:
        """``modified_after``/``modified_before`` bound the file's modification time
        (naive datetimes are taken as UTC)."""
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if offset < 0:
            raise InvalidInputError(f"offset must be 0 or more, got {offset}")
        modalities = _modalities(modality)
        total = self.vectors.ntotal
        if total == 0:
            return []
        wanted = k + offset
        window = (_ns(modified_after), _ns(modified_before))
        filtered = bool(modalities or path_glob or exclude_ids or modified_after or modified_before)
        fetch = min(total, wanted * 4 if filtered else wanted)
        excluded = set(exclude_ids)
        while True:
            scores, ids = self.vectors.search(query.reshape(1, -1), fetch)
            pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and int(i) not in excluded]
            rows = self.repo.units([i for i, _ in pairs])
            hits = [
                _hit(rows[i], s) for i, s in pairs
                if i in rows and _keep(rows[i], modalities, path_glob, window)
            ]
            if len(hits) >= wanted or fetch >= total:
                return hits[offset:wanted]
            fetch = min(total, fetch * 4)


def _modalities(modality: str | Sequence[str] | None) -> set[str]:
    if modality is None:
        return set()
    values = {modality} if isinstance(modality, str) else set(modality)
    unknown = values - set(MODALITIES)
    if unknown:
        raise InvalidInputError(
            f"unknown modality {', '.join(sorted(unknown))}; choose from {', '.join(MODALITIES)}"
        )
    return values


def _ns(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000_000)


def _keep(row: UnitRow, modalities: set[str], path_glob: str | None,
          window: tuple[int | None, int | None] = (None, None)) -> bool:
    if modalities and row.modality not in modalities:
        return False
    after, before = window
    if (after is not None and row.mtime_ns < after) or (before is not None and row.mtime_ns > before):
        return False
    if path_glob:
        name = row.path.rsplit("/", 1)[-1]
        if not (fnmatch.fnmatch(row.path, path_glob) or ("/" not in path_glob and fnmatch.fnmatch(name, path_glob))):
            return False
    return True


def _hit(row: UnitRow, score: float) -> Hit:
    return Hit(id=row.id, path=row.path, modality=row.modality, score=score,
               start=row.start, end=row.end, text=row.text)
