"""Candidates: a query vector -> FAISS candidates -> exact scores -> SQL rows -> filtered hits.

A filter's matching files are first counted in SQL, on the indexes and with a ``LIMIT``
(cheap whatever the answer). A selective filter then goes to FAISS as the set of allowed unit
ids (a bitmap selector), so the search runs over the matches only and never walks the whole
index; a broad one is applied to FAISS's candidates, asking for more until there are enough. With an approximate index kind, candidates are
re-scored exactly from the float32 vectors kept in SQL."""

from __future__ import annotations

import json

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Sequence

import numpy as np

from searchengine.catalog.catalog import Catalog
from searchengine.errors import InvalidInputError
from searchengine.query.hits import Hit
from searchengine.query.filters import SearchFilters
from searchengine.store.keywords import KeywordQuery
from searchengine.store.keywords import matches as keyword_matches
from searchengine.store.records import UnitRow
from searchengine.vectors.index_kind import candidates_for

SELECTIVE_FRACTION = 0.05  # a filter matching at most this share of the units goes to SQL first
SELECTIVE_MIN, SELECTIVE_MAX = 2_000, 50_000


def selective_limit(total: int) -> int:
    return int(min(SELECTIVE_MAX, max(SELECTIVE_MIN, total * SELECTIVE_FRACTION)))


MIN_COVERAGE = 0.5  # a keyword hit holding less than this share of the query's words adds nothing
MODES = ("hybrid", "vector", "keyword")
FILTER_CACHE = 8  # filters whose matching unit ids are kept (per generation): pages, repeats


class Searcher:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.repo = catalog.repo
        self._allowed: OrderedDict[tuple[SearchFilters, int], np.ndarray | None] = OrderedDict()
        self._lock = threading.Lock()

    def allowed_ids(self, filters: SearchFilters, total: int) -> np.ndarray | None:
        """The unit ids a selective filter matches (None: not selective), resolved in SQL
        once per index generation."""
        key = (filters, self.catalog.generation)
        # a date window is not cached: a touched file's new mtime bumps no generation
        cacheable = filters.modified_after is None and filters.modified_before is None
        with self._lock:
            if cacheable and key in self._allowed:
                self._allowed.move_to_end(key)
                return self._allowed[key]
        limit = selective_limit(total)
        conditions = filters.sql_conditions()
        allowed = self.repo.unit_ids_where(conditions, limit) if self.repo.files_where_at_most(conditions, limit) else None
        with self._lock:
            if cacheable:
                self._allowed[key] = allowed
            while len(self._allowed) > FILTER_CACHE:
                self._allowed.popitem(last=False)
        return allowed

    def search(self, query: np.ndarray, k: int = 10, *, offset: int = 0,
               filters: SearchFilters = SearchFilters(), exclude_ids: Sequence[int] = (),
               within: np.ndarray | None = None) -> list[Hit]:
        """Units by raw cosine, unranked across kinds (``score`` = ``similarity`` = the
        cosine): the low-level search of :meth:`SearchEngine.search_vector`."""
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if offset < 0:
            raise InvalidInputError(f"offset must be 0 or more, got {offset}")
        pairs = self.candidates(query, k + offset, filters=filters, exclude_ids=exclude_ids, within=within)
        return [replace(unit_hit(row, s), similarity=s) for row, s in pairs[offset:]]

    def candidates(self, query: np.ndarray, k: int, *, filters: SearchFilters = SearchFilters(),
                   exclude_ids: Sequence[int] = (), within: np.ndarray | None = None
                   ) -> list[tuple[UnitRow, float]]:
        """The ``k`` units nearest the query vector, best first, with their cosine.
        ``within``: only these unit ids (those of one kind, or holding a quoted phrase), as
        well as the filters."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        self.catalog.sync()  # caught up first: the filter cache is keyed by the generation
        total = self.catalog.vectors().ntotal
        if total == 0:
            return []
        wanted = k
        excluded = set(int(i) for i in exclude_ids)
        allowed: np.ndarray | None = None
        if filters:
            allowed = self.allowed_ids(filters, total)
        if within is not None:
            allowed = within if allowed is None else np.intersect1d(allowed, within)
        if allowed is not None:
            if excluded:
                allowed = allowed[~np.isin(allowed, np.fromiter(excluded, dtype=np.int64))]
            if len(allowed) == 0:
                return []
        kind = self.catalog.kind
        limit = len(allowed) if allowed is not None else total
        fetch = min(limit, wanted + (0 if allowed is not None else len(excluded)))
        if filters and allowed is None:  # broad: most candidates match
            fetch = min(limit, 2 * fetch)
        while True:
            scores, ids = self.catalog.search(query, candidates_for(kind, fetch), allowed)
            pairs = [(int(i), float(s)) for i, s in zip(ids, scores) if i >= 0 and int(i) not in excluded]
            if kind.approximate:
                pairs = self._exact(query, pairs)
            rows = self.repo.units([i for i, _ in pairs])
            found = [(rows[i], s) for i, s in pairs
                     if i in rows and _matches(filters, rows[i])]
            if len(found) >= wanted or fetch >= limit:
                return found[:wanted]
            fetch = min(limit, fetch * 4)

    def keyword_ranks(self, query: KeywordQuery, limit: int, filters: SearchFilters
                      ) -> list[tuple[int, float, UnitRow]]:
        """The keyword side's candidates that really match - whole words for words of
        letters (the trigram index also finds "out" in "about"), and the filters - best
        first, with their rows: (unit id, BM25 relevance, row)."""
        found = self.repo.keyword_search(query, limit * 2, filters.sql_conditions() if filters else ())
        rows = self.repo.units([i for i, _ in found])
        return [(i, r, rows[i]) for i, r in found
                if i in rows and _matches(filters, rows[i])
                and keyword_matches(rows[i].text, rows[i].path.rsplit("/", 1)[-1], query)][:limit]

    def _exact(self, query: np.ndarray, pairs: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Re-score candidates from their stored float32 vectors, best first."""
        if not pairs:
            return pairs
        vectors = self.repo.vectors_of([i for i, _ in pairs], len(query))
        scored = [(i, float(vectors[i] @ query)) for i, _ in pairs if i in vectors]
        scored.sort(key=lambda p: -p[1])
        return scored


def _matches(filters: SearchFilters, row: UnitRow) -> bool:
    return filters.matches(row.path, row.modality, row.mtime_ns, taken_ns=row.taken_ns, place=row.place,
                           camera=row.camera)


def unit_hit(row: UnitRow, score: float) -> Hit:
    box = tuple(json.loads(row.box)) if row.box else None
    return Hit(id=row.id, path=row.path, modality=row.modality, score=score,
               start=row.start, end=row.end, text=row.text, kind=row.kind,
               moment=row.start if row.kind == "sound" else None,  # a sound is heard from its start
               box=box, page=row.page)  # type: ignore[arg-type]
