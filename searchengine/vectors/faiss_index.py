"""The FAISS index: inner product over L2-normalised vectors, ids are SQL unit ids.

An index is one of the kinds in :mod:`searchengine.vectors.index_kind` (exact Flat, or IVF
with flat / SQ8 / PQ lists). It is saved to one file with a stamp: the SQL generation it
reflects, its count, the highest unit id it had then, and its kind.

A search process opens the file memory-mapped (instant, and pages are shared with the OS
cache): such a *base* is read-only, so the changes SQL made after the file's generation are
held beside it - added vectors in a small in-memory ``delta`` index, removed ids as
``tombstones`` that searches skip. A writer opens the file fully and changes it in place.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from searchengine.catalog.atomic_files import atomic_write_bytes
from searchengine.encoders.openmp import sleeping_idle_threads
from searchengine.errors import IndexDamagedError
from searchengine.vectors.index_kind import FLAT, IndexKind

log = logging.getLogger(__name__)

METRIC = "inner_product"
GPU_MAX_K = 2048  # FAISS GPU indexes refuse larger k; those searches run on the CPU copy
GPU_RECOPY_S = 30.0  # while the index keeps changing, refresh the GPU copy at most this often


def _faiss() -> Any:
    sleeping_idle_threads()  # before FAISS's OpenMP runtime loads
    import faiss

    return faiss


@functools.lru_cache(maxsize=1)
def _num_gpus() -> int:
    return int(_faiss().get_num_gpus())


def new_faiss_index(kind: IndexKind, dim: int) -> Any:
    """An empty FAISS index of ``kind`` (IVF kinds still need training)."""
    faiss = _faiss()
    if kind.name == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    return faiss.index_factory(dim, kind.factory(dim), faiss.METRIC_INNER_PRODUCT)


class VectorIndex:
    """A FAISS index with explicit ids, optionally a read-only (memory-mapped) base with an
    in-memory delta and tombstones (see the module's doc)."""

    def __init__(self, dim: int, kind: IndexKind = FLAT, index: Any = None, *, read_only: bool = False,
                 max_id: int = 0):
        self.dim = dim
        self.kind = kind
        self._index = index if index is not None else new_faiss_index(kind, dim)
        if self._index.d != dim:
            raise IndexDamagedError(f"FAISS index has dimension {self._index.d}, expected {dim}")
        if kind.name != "flat":
            ivf = _faiss().extract_index_ivf(self._index)
            ivf.nprobe = max(1, kind.nprobe)
            ivf.parallel_mode = 1  # one query at a time: spread its lists over the cores
        self.read_only = read_only
        self.base_max_id = max_id  # ids above this are not in a read-only base
        self.top_id = max_id  # the highest id ever added (SQL's units above it are new to us)
        self._delta: Any = None
        self._tombstones: set[int] = set()
        self._not_dead: Any = None  # cached selector that skips the tombstones
        self._gpu_index: Any = None  # None: no current copy; False: no usable GPU
        self._gpu_copied_at = 0.0
        self.generation = -1  # the SQL write generation this index reflects

    # -- size and ids ---------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        delta = int(self._delta.ntotal) if self._delta is not None else 0
        return int(self._index.ntotal) - len(self._tombstones) + delta

    @property
    def pending(self) -> int:
        """Changes held beside a read-only base (delta vectors + tombstones)."""
        return (int(self._delta.ntotal) if self._delta is not None else 0) + len(self._tombstones)

    def ids(self) -> np.ndarray:
        """Every id in the index (order unspecified)."""
        base = ids_of(self._index)
        if self._tombstones:
            base = base[~np.isin(base, np.fromiter(self._tombstones, dtype=np.int64))]
        if self._delta is not None and self._delta.ntotal:
            base = np.concatenate([base, ids_of(self._delta)])
        return base

    # -- changes ----------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        self.top_id = max(self.top_id, int(ids.max()))
        if self.read_only:
            if self._delta is None:
                self._delta = new_faiss_index(FLAT, self.dim)
            self._delta.add_with_ids(vectors, ids)
        else:
            self._index.add_with_ids(vectors, ids)
        self._gpu_stale()

    def remove(self, ids: Iterable[int]) -> int:
        arr = np.asarray(list(ids), dtype=np.int64)
        if arr.size == 0:
            return 0
        if not self.read_only:
            removed = int(self._index.remove_ids(arr))
        else:
            removed = 0
            if self._delta is not None:
                removed += int(self._delta.remove_ids(arr[arr > self.base_max_id]))
            for i in arr[arr <= self.base_max_id].tolist():
                if i not in self._tombstones:
                    self._tombstones.add(i)
                    removed += 1
            self._not_dead = None
        self._gpu_stale()
        return removed

    def _gpu_stale(self) -> None:
        if self._gpu_index is not False:  # False: no usable GPU, for good
            self._gpu_index = None

    # -- searching --------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) per query row; ids of -1 mean fewer than k vectors.
        ``allowed``: only these ids (a filter resolved in SQL), given to FAISS as a bitmap
        selector. An IVF kind then probes more lists, in inverse proportion to the share of
        the index allowed (:func:`filtered_nprobe`), so as to see about as many allowed
        candidates as an unfiltered search sees."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if len(queries) == 1 and not self.kind.is_ivf:
            with _one_omp_thread():
                return self._search(queries, k, allowed)
        return self._search(queries, k, allowed)

    def _search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        k = max(1, min(k, max(self.ntotal, 1)))
        keep: list[Any] = []  # selectors (and their bitmaps) must outlive the search call
        selector = None
        if allowed is not None:
            selector, bits = _bitmap_selector(allowed)
            keep += [selector, bits]
        if self._tombstones:
            if self._not_dead is None:
                dead, bits = _bitmap_selector(np.fromiter(self._tombstones, dtype=np.int64))
                self._not_dead = (faiss.IDSelectorNot(dead), dead, bits)
            keep.append(self._not_dead)
            selector = self._not_dead[0] if selector is None else faiss.IDSelectorAnd(selector, self._not_dead[0])
            keep.append(selector)
        if selector is None:
            scores, ids = self._searcher(k).search(queries, k)
        else:
            if self.kind.name == "flat":
                params = faiss.SearchParameters(sel=selector)
            else:
                nprobe = max(1, self.kind.nprobe)
                if allowed is not None:
                    nprobe = filtered_nprobe(nprobe, self.kind.nlist, self.ntotal, len(allowed))
                params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            scores, ids = self._index.search(queries, k, params=params)
        if self._delta is not None and self._delta.ntotal:
            params = faiss.SearchParameters(sel=keep[0]) if allowed is not None else None
            d_scores, d_ids = self._delta.search(queries, min(k, int(self._delta.ntotal)), params=params)
            scores, ids = _merge(scores, ids, d_scores, d_ids, k)
        return scores, ids

    def range_search(self, queries: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every vector scoring above ``radius`` (inner product) with each query row, in
        FAISS's layout ``(lims, scores, ids)``: row i's results are ``[lims[i]:lims[i+1]]``,
        in no order. The base and the delta are both searched, tombstones skipped;
        ``allowed`` as in :meth:`search`; an IVF kind probes ``nprobe`` lists (default: its
        tuned nprobe). On the CPU (FAISS's GPU indexes have no range search)."""
        faiss = _faiss()
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        keep: list[Any] = []  # selectors (and their bitmaps) must outlive the search call
        only = selector = None
        if allowed is not None:
            only, bits = _bitmap_selector(allowed)
            keep += [only, bits]
            selector = only
        if self._tombstones:
            dead, bits = _bitmap_selector(np.fromiter(self._tombstones, dtype=np.int64))
            not_dead = faiss.IDSelectorNot(dead)
            selector = not_dead if selector is None else faiss.IDSelectorAnd(selector, not_dead)
            keep += [dead, bits, not_dead, selector]
        params: Any = None
        if self.kind.is_ivf:
            params = faiss.SearchParametersIVF(nprobe=max(1, nprobe or self.kind.nprobe))
            if selector is not None:
                params.sel = selector
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)
        ivf = faiss.extract_index_ivf(self._index) if self.kind.is_ivf else None
        if ivf is not None:
            # many queries: spread them over the cores, not each query's lists (16x faster at
            # 1,024 queries). FAISS reads the mode per call: a search meanwhile runs on one
            # thread, no less right.
            ivf.parallel_mode = 0
        try:
            lims, scores, ids = self._index.range_search(queries, float(radius), params=params)
        finally:
            if ivf is not None:
                ivf.parallel_mode = 1
        lims = lims.astype(np.int64)  # FAISS gives size_t
        if self._delta is not None and self._delta.ntotal:
            d_params = faiss.SearchParameters(sel=only) if only is not None else None
            d_lims, d_scores, d_ids = self._delta.range_search(queries, float(radius), params=d_params)
            lims, scores, ids = _merge_ranges(lims, scores, ids, d_lims.astype(np.int64), d_scores, d_ids)
        return lims, scores, np.asarray(ids, dtype=np.int64)

    def _searcher(self, k: int) -> Any:
        """The GPU copy when there is a GPU and it is current; else the CPU index."""
        if self._gpu_index is False or k > GPU_MAX_K or self.ntotal == 0 or _num_gpus() == 0:
            return self._index
        if self._gpu_index is None:
            if time.monotonic() - self._gpu_copied_at < GPU_RECOPY_S:
                return self._index  # changed moments ago, probably still changing
            try:  # pragma: no cover - needs a GPU
                self._gpu_index = _faiss().index_cpu_to_all_gpus(self._index)
                self._gpu_copied_at = time.monotonic()
            except Exception as exc:  # pragma: no cover - needs a GPU
                log.warning("GPU search unavailable, using the CPU index: %s", exc)
                self._gpu_index = False
                return self._index
        return self._gpu_index

    # -- files --------------------------------------------------------------------------

    def write(self, path: Path, generation: int, max_id: int, *, source: str | None = None) -> None:
        """Save atomically (temp file, fsync, rename), then the stamp. A crash in between
        leaves a stamp that does not match, which makes the next open rebuild from SQL.
        Only a writable index (no delta) is saved. ``source``: the identity of the database
        the vectors came from (a server database; None for the folder's SQLite file)."""
        if self.read_only:
            raise IndexDamagedError("a memory-mapped index is never saved; open it for writing")
        faiss = _faiss()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            faiss.write_index(self._index, str(tmp))
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            # the old stamp goes first: a crash before the new one is written leaves no stamp
            # (a rebuild), never the new file under the old stamp
            stamp_path(path).unlink(missing_ok=True)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        stamp = {"generation": generation, "ntotal": self.ntotal, "max_id": max_id, "kind": self.kind.to_json()}
        if source is not None:
            stamp["source"] = source
        atomic_write_bytes(stamp_path(path), json.dumps(stamp).encode())


FILTER_EXACT_MAX = 200_000  # up to this many vectors a filtered search visits every list
FILTER_PROBE_FACTOR = 1  # at 1M with a 1% filter: recall 1.0 against visiting every list (bench_scale)


def filtered_nprobe(nprobe: int, nlist: int, ntotal: int, allowed: int) -> int:
    """Lists to probe when only ``allowed`` of ``ntotal`` vectors may be returned. Every
    list (exact over the matches) while a full pass is cheap - a bit test per vector,
    about 25 ns: 5 ms at 200,000 -; above that, the tuned ``nprobe`` scaled by
    ``FILTER_PROBE_FACTOR * ntotal / allowed``, so that the search meets about as many
    allowed candidates as an unfiltered search meets vectors."""
    if allowed <= 0 or ntotal <= FILTER_EXACT_MAX:
        return nlist
    return int(min(nlist, max(nprobe, -(-FILTER_PROBE_FACTOR * nprobe * ntotal // allowed))))


def _bitmap_selector(ids: np.ndarray) -> tuple[Any, np.ndarray]:
    """A FAISS selector of ``ids`` as a bitmap (one bit per id up to the largest): a bit
    test per candidate, where a hash-set selector costs a lookup."""
    faiss = _faiss()
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[ids >= 0]
    size = int(ids.max()) + 1 if len(ids) else 1
    bits = np.zeros(size, dtype=bool)
    bits[ids] = True
    packed = np.packbits(bits, bitorder="little")
    return faiss.IDSelectorBitmap(len(packed), faiss.swig_ptr(packed)), packed  # n: bytes


@contextmanager
def _one_omp_thread() -> Iterator[None]:
    """FAISS runs with one OpenMP thread in the calling thread while this is held: for one
    query on an exact (flat) index, whose scoring FAISS never splits for a single query
    (it spreads a search over its queries). What OpenMP would still split are small loops
    such as IndexIDMap's id translation, whose parallel region costs more than the loop: the
    team's idle threads sleep (:mod:`searchengine.encoders.openmp`), and waking them on a
    busy machine is a wait for a core. Measured on the shared 2-core machine (a 115-unit
    index, 384-d, one query, k=115): 4.7-7.1 ms wall with two threads, 0.1-0.2 ms with
    one. The same results: the same arithmetic in the same order. OpenMP's thread count is
    per thread, so batch searches (the duplicate finder, evaluation) and other threads keep
    theirs; IVF kinds keep spreading one query's lists over the cores (``parallel_mode`` 1)."""
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    if before == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _merge(s1: np.ndarray, i1: np.ndarray, s2: np.ndarray, i2: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.concatenate([s1, s2], axis=1)
    ids = np.concatenate([i1, i2], axis=1)
    scores = np.where(ids < 0, -np.inf, scores)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def _merge_ranges(l1: np.ndarray, s1: np.ndarray, i1: np.ndarray, l2: np.ndarray, s2: np.ndarray,
                  i2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two range-search results over the same queries as one (each row's results joined)."""
    n1, n2 = np.diff(l1), np.diff(l2)
    rows = np.arange(len(n1))
    order = np.argsort(np.concatenate([np.repeat(rows, n1), np.repeat(rows, n2)]), kind="stable")
    lims = np.concatenate([[0], np.cumsum(n1 + n2)]).astype(np.int64)
    return lims, np.concatenate([s1, s2])[order], np.concatenate([i1, i2])[order]


def ids_of(index: Any) -> np.ndarray:
    faiss = _faiss()
    if isinstance(index, faiss.IndexIDMap2) or hasattr(index, "id_map"):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    lists = ivf.invlists
    parts = []
    for i in range(ivf.nlist):
        size = lists.list_size(i)
        if size:
            parts.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".stamp.json")


def read_stamp(path: Path) -> dict | None:
    """The stamp of a saved index, or None when there is none or it is unreadable."""
    try:
        stamp = json.loads(stamp_path(path).read_text())
        return stamp if isinstance(stamp, dict) else None
    except (OSError, ValueError):
        return None


def read_vector_index(path: Path, dim: int, *, mmap: bool) -> tuple[VectorIndex, dict] | None:
    """The saved index and its stamp, or None when there is no usable one. ``mmap``: map
    the file read-only instead of reading it (changes then go to a delta)."""
    stamp = read_stamp(path)
    if stamp is None or not path.is_file():
        return None
    faiss = _faiss()
    try:
        kind = IndexKind.from_json(stamp.get("kind") or {"name": "flat"})
        flags = (faiss.IO_FLAG_MMAP_IFC if kind.name == "flat" else faiss.IO_FLAG_MMAP) if mmap else 0
        raw = faiss.read_index(str(path), flags)
        index = VectorIndex(dim, kind, raw, read_only=mmap, max_id=int(stamp.get("max_id", 0)))
    except Exception as exc:
        log.warning("FAISS file %s unreadable (%s); it will be rebuilt from SQL", path, exc)
        return None
    if int(raw.ntotal) != int(stamp.get("ntotal", -1)):
        log.warning("FAISS file %s does not match its stamp; it will be rebuilt from SQL", path)
        return None
    index.generation = int(stamp.get("generation", -1))
    return index, stamp
