"""Duplicates: exact copies and near-duplicate photos, in groups.

- **Exact copies**: indexed files of any modality with the same content hash, found with one
  SQL ``GROUP BY content_hash HAVING COUNT(*) > 1``. The groups whose extra copies take the
  most bytes come first.
- **Near-duplicate photos**: photos (whole-picture units only: not the text read in a
  picture, not video frames) whose vectors have a cosine of at least ``threshold``. Each
  photo's vector, read from SQL :data:`BATCH` at a time, is a FAISS range-search query
  (:meth:`VectorIndex.range_search`: base and delta, tombstones skipped), so memory grows
  with the pairs found, never with N x N. An IVF index probes twice its tuned ``nprobe`` lists;
  where its codes are approximate (SQ8, PQ) it searches :data:`RADIUS_MARGIN` below the
  threshold and the candidates are re-scored exactly from the float32 vectors in SQL.
  Exact copies take part once (the first of each group of copies stands for the others:
  no pair is a pair of copies). Pairs are merged into groups with union-find. In a group the
  largest file comes first (the likely original) and every other carries its exact cosine to
  that one; the group's score is its closest pair's. The groups with the closest pairs come
  first.

Both passes read SQL (and FAISS) as they go: files indexed meanwhile may or may not be seen.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from tqdm import tqdm

from searchengine.catalog.catalog import Catalog
from searchengine.errors import InvalidInputError
from searchengine.query.filters import SearchFilters
from searchengine.store.duplicate_rows import PHOTO, CopyRow, copy_rows, photo_batches, photo_count
from searchengine.store.models import MediaFile
from searchengine.store.repository import UnitRow

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.95
MIN_THRESHOLD = 0.5  # below this "near-duplicate" means nothing, and the pairs would be legion
KINDS = ("all", "exact", "near")
BATCH = 1024  # photos per range-search call
# how far below the threshold an approximate index is searched: the largest score error of its
# codes measured on 512-d CLIP-like vectors (benchmarks/bench_duplicates.py); candidates are
# then re-scored exactly, so the margin costs only candidates, never a wrong pair
RADIUS_MARGIN = {"ivf-sq8": 0.02, "ivf-pq": 0.1}
# an IVF index probes this many times its tuned nprobe (tuned for the top 10 of a search): a
# photo and its edit fall in lists side by side more often than a query and its top 10
# (at 100,000: 96% of planted pairs found at nprobe 1, 99.8% at 2, 100% at 4)
NPROBE_FACTOR = 2
# bounds on memory whatever the threshold: candidate pairs held by one range search, and
# pairs grouped in all (past it the request is refused, naming the threshold)
PAIRS_PER_CALL = 2_000_000
MAX_PAIRS = 5_000_000

DuplicateKind = Literal["all", "exact", "near"]


@dataclass(frozen=True)
class DuplicateFile:
    """One file of a group. ``item_id``: its (first) indexed unit, as the search API names
    items (None for a file with no unit). ``score``: near groups, the cosine of this
    photo's vector with the group's first (None for the first itself). ``copies``: near
    groups, how many other files hold exactly this content (listed with the exact copies)."""

    file_id: int
    item_id: int | None
    path: str
    modality: str
    size: int
    score: float | None = None
    copies: int = 0


@dataclass(frozen=True)
class DuplicateGroup:
    """Files that are copies (``kind`` exact, same ``content_hash``) or near-duplicate
    photos (``kind`` near; ``score``: the cosine of its closest pair)."""

    kind: Literal["exact", "near"]
    files: tuple[DuplicateFile, ...]
    score: float | None = None
    content_hash: str | None = None

    @property
    def redundant_bytes(self) -> int:
        """Bytes all but the largest file take."""
        sizes = [f.size for f in self.files]
        return sum(sizes) - max(sizes, default=0)


@dataclass(frozen=True)
class DuplicatesReport:
    """What :func:`find_duplicates` found. ``exact_total`` / ``near_total``: groups before
    the limit; ``photos``: photos compared; ``index_type``: the FAISS kind searched."""

    threshold: float
    kind: str
    exact: list[DuplicateGroup]
    near: list[DuplicateGroup]
    exact_total: int
    near_total: int
    photos: int
    index_type: str
    seconds: float


def check_request(threshold: float, kind: str, limit: int | None) -> None:
    """Errors that name the bad argument."""
    if not isinstance(threshold, (int, float)) or math.isnan(threshold) or not MIN_THRESHOLD <= threshold <= 1.0:
        raise InvalidInputError(
            f"threshold must be a cosine similarity between {MIN_THRESHOLD} and 1.0, got {threshold}"
        )
    if kind not in KINDS:
        raise InvalidInputError(f"unknown duplicates kind {kind!r}; choose {', '.join(KINDS)}")
    if limit is not None and limit < 1:
        raise InvalidInputError(f"limit must be at least 1, got {limit}")


def find_duplicates(catalog: Catalog, threshold: float = DEFAULT_THRESHOLD, *, kind: str = "all",
                    limit: int | None = None, filters: SearchFilters = SearchFilters(),
                    progress: bool = False, nprobe: int | None = None, max_pairs: int = MAX_PAIRS) -> DuplicatesReport:
    """Exact copies and/or near-duplicate photos (see the module's doc) among the files
    ``filters`` lets through; at most ``limit`` groups of each. ``nprobe``: lists an IVF
    index probes (default: :data:`NPROBE_FACTOR` times its tuned value). More than
    ``max_pairs`` near pairs is :class:`InvalidInputError` (raise the threshold)."""
    check_request(threshold, kind, limit)
    t0 = time.perf_counter()
    conditions = filters.sql_conditions()
    if kind == "near":
        conditions = conditions + [MediaFile.modality == PHOTO]
    rows = copy_rows(catalog.repo, conditions)
    if filters:
        rows = [r for r in rows if filters.matches(r.path, r.modality, r.mtime_ns)]
    copies = _copy_groups(rows)
    exact = sorted((_exact_group(g) for g in copies), key=lambda g: (-g.redundant_bytes, g.content_hash or ""))
    near: list[DuplicateGroup] = []
    near_total = photos = 0
    index_type = catalog.kind.describe()
    if kind != "exact" and catalog.count() > 0:
        stand_in = {g[0].file_id: len(g) - 1 for g in copies if g[0].modality == PHOTO}
        excluded = {r.file_id for g in copies if g[0].modality == PHOTO for r in g[1:]}
        near, near_total, photos = _near(catalog, threshold, filters, excluded, stand_in, limit, progress, nprobe,
                                         max_pairs)
        index_type = catalog.kind.describe()
    if kind == "near":
        exact = []  # found only to leave the extra copies out of the near pass
    report = DuplicatesReport(threshold, kind, exact[:limit] if limit else exact, near, len(exact), near_total,
                              photos, index_type, time.perf_counter() - t0)
    log.info("duplicates: %d exact groups, %d near groups among %d photos (%s) in %.1f s",
             report.exact_total, report.near_total, photos, index_type, report.seconds)
    return report


def _copy_groups(rows: Sequence[CopyRow]) -> list[list[CopyRow]]:
    """Rows (ordered by hash, then path) as groups of two or more."""
    groups: dict[str, list[CopyRow]] = {}
    for row in rows:
        groups.setdefault(row.content_hash, []).append(row)
    return [g for g in groups.values() if len(g) > 1]


def _exact_group(rows: list[CopyRow]) -> DuplicateGroup:
    files = tuple(DuplicateFile(r.file_id, r.item_id, r.path, r.modality, r.size) for r in rows)
    return DuplicateGroup("exact", files, content_hash=rows[0].content_hash)


class _UnionFind:
    """Disjoint sets of ids (path halving; the smaller root wins)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for x in list(self.parent):
            out[self.find(x)].append(x)
        return list(out.values())


UNKNOWN, TAKES_PART, LEFT_OUT = 0, 1, 2


class _Membership:
    """Which unit ids are photos taking part (a byte per id up to the highest seen)."""

    def __init__(self, top: int):
        self.state = np.zeros(top + 1, dtype=np.int8)

    def ensure(self, top: int) -> None:
        if top >= len(self.state):
            self.state = np.concatenate([self.state, np.zeros(top + 1 - len(self.state), dtype=np.int8)])

    def set(self, ids: np.ndarray, value: int) -> None:
        if len(ids):
            self.ensure(int(ids.max()))
            self.state[ids] = value


def _near(catalog: Catalog, threshold: float, filters: SearchFilters, excluded: set[int],
          stand_in: dict[int, int], limit: int | None, progress: bool, nprobe: int | None,
          max_pairs: int = MAX_PAIRS) -> tuple[list[DuplicateGroup], int, int]:
    """(the first ``limit`` near groups, how many there are, photos compared)."""
    repo, dim = catalog.repo, catalog.dim
    index = catalog.vectors()
    approximate = index.kind.approximate
    radius = threshold - RADIUS_MARGIN.get(index.kind.name, 0.0) - 1e-6  # FAISS keeps scores > radius
    if index.kind.is_ivf and nprobe is None:
        nprobe = min(index.kind.nlist, NPROBE_FACTOR * max(1, index.kind.nprobe))
    conditions = filters.sql_conditions()
    members = _Membership(repo.snapshot()[2])
    excluded_ids = np.fromiter(excluded, dtype=np.int64, count=len(excluded))
    sets = _UnionFind()
    best: dict[int, float] = {}
    photos = pairs = 0
    total = photo_count(repo, conditions) if progress else None
    with tqdm(total=total, desc="near-duplicate photos", unit="photo", disable=not progress, leave=False) as bar:
        for batch in photo_batches(repo, dim, conditions, batch=BATCH, with_paths=bool(filters)):
            bar.update(len(batch.ids))
            take = ~np.isin(batch.file_ids, excluded_ids)
            if filters:
                assert batch.paths is not None and batch.mtimes is not None
                take &= np.fromiter((filters.matches(p, PHOTO, m) for p, m in zip(batch.paths, batch.mtimes)),
                                    dtype=bool, count=len(batch.ids))
            members.set(batch.ids[~take], LEFT_OUT)
            ids, vectors = batch.ids[take], batch.vectors[take]
            members.set(ids, TAKES_PART)
            photos += len(ids)
            if not len(ids):
                continue
            # a range search returns up to every photo for each query: queries per call are
            # limited so that one call holds at most PAIRS_PER_CALL candidate pairs
            step = max(1, PAIRS_PER_CALL // max(1, catalog.count()))
            for at in range(0, len(ids), step):
                part_ids, part = ids[at:at + step], vectors[at:at + step]
                lims, scores, found = catalog.range_search(part, radius, nprobe=nprobe)
                rows = np.repeat(np.arange(len(part_ids)), np.diff(lims))
                keep = (found >= 0) & (found != part_ids[rows])
                rows, found, scores = rows[keep], found[keep], scores[keep]
                del lims
                if not len(found):
                    continue
                _learn(catalog, members, found, filters, excluded)
                keep = members.state[found] == TAKES_PART
                rows, found, scores = rows[keep], found[keep], scores[keep]
                if approximate and len(found):
                    scores = _exact_scores(catalog, part, rows, found)
                keep = scores >= threshold
                pairs += int(keep.sum())
                if pairs > max_pairs:
                    raise InvalidInputError(
                        f"more than {max_pairs:,} pairs of photos are at least {threshold} alike: too many to "
                        "group; raise the threshold (near-duplicates are usually 0.9 or more)")
                for q, c, s in zip(part_ids[rows[keep]].tolist(), found[keep].tolist(), scores[keep].tolist()):
                    sets.union(q, c)
                    best[q] = max(best.get(q, -1.0), s)
                    best[c] = max(best.get(c, -1.0), s)
    groups = sorted(sets.groups(), key=lambda g: (-max(best[m] for m in g), -len(g), min(g)))
    chosen = groups[:limit] if limit else groups
    return _near_groups(catalog, chosen, best, stand_in), len(groups), photos


def _learn(catalog: Catalog, members: _Membership, found: np.ndarray, filters: SearchFilters,
           excluded: set[int]) -> None:
    """Look up, in SQL, the candidates not yet known to take part or not: a photo's own
    unit, in a file that is not an extra copy, that the filters let through."""
    members.ensure(int(found.max()))
    unknown = np.unique(found[members.state[found] == UNKNOWN])
    if not len(unknown):
        return
    rows = catalog.repo.units(unknown.tolist())
    ok = [i for i in unknown.tolist() if i in rows and rows[i].kind == PHOTO and rows[i].modality == PHOTO
          and rows[i].file_id not in excluded
          and (not filters or filters.matches(rows[i].path, rows[i].modality, rows[i].mtime_ns))]
    members.set(unknown, LEFT_OUT)
    members.set(np.asarray(ok, dtype=np.int64), TAKES_PART)


def _exact_scores(catalog: Catalog, queries: np.ndarray, rows: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The cosine of each (query row, found id) pair from the float32 vectors in SQL (-1
    for an id gone meanwhile)."""
    stored = catalog.repo.vectors_of(np.unique(found).tolist(), catalog.dim)
    zero = np.zeros(catalog.dim, dtype=np.float32)
    others = np.stack([stored.get(int(i), zero) for i in found.tolist()])
    scores = np.einsum("ij,ij->i", queries[rows], others)
    return np.where(np.isin(found, np.fromiter(stored, dtype=np.int64, count=len(stored))), scores, -1.0)


def _near_groups(catalog: Catalog, groups: list[list[int]], best: dict[int, float],
                 stand_in: dict[int, int]) -> list[DuplicateGroup]:
    """The groups with their files, the largest first, each other with its cosine to it."""
    ids = [i for g in groups for i in g]
    rows = catalog.repo.units(ids)
    vectors = catalog.repo.vectors_of(ids, catalog.dim)
    out = []
    for group in groups:
        present = [i for i in group if i in rows and i in vectors]
        if len(present) < 2:
            continue  # removed while we looked
        first = min(present, key=lambda i: (-rows[i].size, rows[i].path, i))
        scored = sorted(((float(np.dot(vectors[first], vectors[i])), i) for i in present if i != first),
                        key=lambda t: (-t[0], rows[t[1]].path))
        files = [_near_file(rows[first], None, stand_in)]
        files += [_near_file(rows[i], min(1.0, score), stand_in) for score, i in scored]
        out.append(DuplicateGroup("near", tuple(files), score=min(1.0, max(best[i] for i in present))))
    return out


def _near_file(row: UnitRow, score: float | None, stand_in: dict[int, int]) -> DuplicateFile:
    return DuplicateFile(row.file_id, row.id, row.path, row.modality, row.size, score, stand_in.get(row.file_id, 0))
