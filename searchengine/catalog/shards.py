"""Vector search over shards: S read-only replicas of one index in PostgreSQL, shard s
holding the units with ``id % S == s`` (``SearchEngine.open(..., shard=(s, S))``; each has
its own folder and FAISS file, a 1/S share of the vectors, caught up from the change log
filtered the same way).

Each shard returns its top ``k + offset`` with exact scores (approximate kinds re-rank from
the float32 vectors in SQL), and the shards are disjoint, so the global top ``k`` is in the
union: :func:`merge_hits` sorts it. Here the shards run in one process, on threads (FAISS
releases the GIL); across machines a front service sends the query to each shard's server
and merges the same way (docs/scale.md, section 6). Vector queries only: hybrid search fuses
by rank, and ranks from different shards do not add up to the unsharded ranks.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

import numpy as np

from searchengine.engine import SearchEngine
from searchengine.errors import InvalidInputError
from searchengine.query.hits import Hit
from searchengine.query.filters import SearchFilters


def merge_hits(per_shard: Iterable[Sequence[Hit]], k: int, offset: int = 0) -> list[Hit]:
    """The best ``k`` after ``offset`` of the shards' hits, by score (then id), each id once."""
    seen: set[int] = set()
    merged = []
    for hit in sorted((h for hits in per_shard for h in hits), key=lambda h: (-h.score, h.id)):
        if hit.id not in seen:
            seen.add(hit.id)
            merged.append(hit)
    return merged[offset:offset + k]


class ShardedSearch:
    """Searches all S shards of one index and merges their hits."""

    def __init__(self, shards: Sequence[SearchEngine]):
        found = sorted(e.repo.shard for e in shards if e.repo.shard is not None)
        total = found[0][1] if found else 0
        if len(found) != len(shards) or found != [(s, total) for s in range(total)]:
            raise InvalidInputError(f"the shards must be 0..S-1 of one S, each once; got {found}")
        self.shards = list(shards)
        self._pool = ThreadPoolExecutor(max_workers=len(shards), thread_name_prefix="shard")

    def search_vector(self, query: np.ndarray, *, k: int = 10, offset: int = 0,
                      filters: SearchFilters = SearchFilters()) -> list[Hit]:
        per_shard = self._pool.map(lambda e: e.search_vector(query, k=k + offset, filters=filters), self.shards)
        return merge_hits(per_shard, k, offset)

    def close(self) -> None:
        self._pool.shutdown()
