"""Queries: a query vector -> FAISS candidates -> exact scores -> SQL rows -> filtered hits.

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
from searchengine.store.keywords import KeywordQuery, highlights, parse_query
from searchengine.store.keywords import coverage as keyword_coverage
from searchengine.store.keywords import matches as keyword_matches
from searchengine.store.repository import UnitRow
from searchengine.vectors.index_kind import candidates_for

SELECTIVE_FRACTION = 0.05  # a filter matching at most this share of the units goes to SQL first
SELECTIVE_MIN, SELECTIVE_MAX = 2_000, 50_000


def selective_limit(total: int) -> int:
    return int(min(SELECTIVE_MAX, max(SELECTIVE_MIN, total * SELECTIVE_FRACTION)))


RRF_K = 60  # reciprocal-rank fusion's constant (Cormack et al., 2009)
RRF_DEPTH = 100  # candidates taken from each side before fusing
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
        """Vector search. ``within``: only these unit ids (e.g. those holding a quoted
        phrase), as well as the filters."""
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if offset < 0:
            raise InvalidInputError(f"offset must be 0 or more, got {offset}")
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        self.catalog.sync()  # caught up first: the filter cache is keyed by the generation
        total = self.catalog.vectors().ntotal
        if total == 0:
            return []
        wanted = k + offset
        excluded = set(int(i) for i in exclude_ids)
        allowed: np.ndarray | None = None
        if filters:
            allowed = self.allowed_ids(filters, total)
        if within is not None:
            allowed = within if allowed is None else np.intersect1d(allowed, within)
        if filters or within is not None:
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
            hits = [_hit(rows[i], s) for i, s in pairs
                    if i in rows and _matches(filters, rows[i])]
            if len(hits) >= wanted or fetch >= limit:
                return hits[offset:wanted]
            fetch = min(limit, fetch * 4)

    # -- text queries: keyword, and hybrid --------------------------------------------

    def search_keywords(self, text: str, k: int = 10, *, offset: int = 0,
                        filters: SearchFilters = SearchFilters()) -> list[Hit]:
        """The keyword side alone (no model): BM25 over the trigram index, best first."""
        query = parse_query(text)
        wanted = k + offset
        ranked = self._keyword_ranks(query, max(wanted, 1) * (4 if filters else 1) + 10, filters)
        hits = [replace(_hit(row, rel), found_by=("keyword",), highlights=tuple(highlights(row.text, query)) or None)
                for _, rel, row in ranked]
        return hits[offset:wanted]

    def search_hybrid(self, vector: np.ndarray, text: str, k: int = 10, *, offset: int = 0,
                      filters: SearchFilters = SearchFilters()) -> list[Hit]:
        """Vector and keyword results fused by reciprocal rank (RRF: the sum over the sides
        of 1 / (RRF_K + rank)). A quoted phrase must occur in every hit: the vector side is
        then searched within the units holding it. ``score`` stays the cosine similarity."""
        query = parse_query(text)
        wanted = k + offset
        depth = max(RRF_DEPTH, wanted)  # the same for every page up to RRF_DEPTH: pages agree
        if not query:
            return self.search(vector, k, offset=offset, filters=filters)
        within = None
        if query.phrases:
            phrase_only = KeywordQuery(query.phrases, ())
            within = np.asarray([i for i, _, _ in self._keyword_ranks(phrase_only, SELECTIVE_MAX, filters)],
                                dtype=np.int64)
            if len(within) == 0:
                return []
        by_vector = self.search(vector, depth, filters=filters, within=within)
        by_keyword = self._keyword_ranks(query, depth, filters)
        # the keyword side counts for a hit by the share of the query's words it holds, and not
        # at all below MIN_COVERAGE: a question's one common word ("history") in a file name
        # must not outrank the passage that answers it in another language
        weight = {i: keyword_coverage(row.text, row.path.rsplit("/", 1)[-1], query) for i, _, row in by_keyword}
        by_keyword = [entry for entry in by_keyword if weight[entry[0]] >= MIN_COVERAGE]
        vector_rank = {h.id: rank for rank, h in enumerate(by_vector, 1)}
        keyword_rank = {i: rank for rank, (i, _, _) in enumerate(by_keyword, 1)}
        hits = {h.id: h for h in by_vector}
        missing = {i: row for i, _, row in by_keyword if i not in hits}
        vectors = self.repo.vectors_of(list(missing), len(vector))  # their cosine, for `score`
        hits.update((i, _hit(row, float(vectors[i] @ vector))) for i, row in missing.items() if i in vectors)

        def fused(i: int) -> float:
            return (1.0 / (RRF_K + vector_rank[i]) if i in vector_rank else 0.0) + \
                (weight[i] / (RRF_K + keyword_rank[i]) if i in keyword_rank else 0.0)

        # equal fused ranks (vector 1st alone against keyword 1st alone): the keyword side's
        # exact match first, then the better cosine
        order = sorted(hits, key=lambda i: (-fused(i), keyword_rank.get(i, depth + 1), -hits[i].score))
        return [replace(hits[i], highlights=tuple(highlights(hits[i].text, query)) or None,
                        found_by=tuple(side for side, ranks in (("vector", vector_rank), ("keyword", keyword_rank))
                                       if i in ranks))
                for i in order[offset:wanted]]

    def _keyword_ranks(self, query: KeywordQuery, limit: int, filters: SearchFilters
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


def _hit(row: UnitRow, score: float) -> Hit:
    box = tuple(json.loads(row.box)) if row.box else None
    return Hit(id=row.id, path=row.path, modality=row.modality, score=score,
               start=row.start, end=row.end, text=row.text, kind=row.kind,
               box=box, page=row.page)  # type: ignore[arg-type]
