"""Building a FAISS index from the vectors in SQL: train the IVF lists on a sample, add
every vector in batches, and tune ``nprobe`` so that recall@10 against exact search is at
least :data:`~searchengine.vectors.index_kind.TARGET_RECALL` on held-aside queries (exact
top-10 computed in the same pass over the vectors)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Protocol

import numpy as np
from tqdm import tqdm

from searchengine.vectors.faiss_index import VectorIndex, _faiss, new_faiss_index
from searchengine.vectors.index_kind import TARGET_RECALL, IndexKind, candidates_for

log = logging.getLogger(__name__)

TRAIN_PER_LIST = 64  # training vectors per IVF list (FAISS asks for 39 at least)
KMEANS_ITERATIONS = 10
QUERY_SAMPLE = 500  # held-aside queries the recall is measured on
RECALL_K = 10


class VectorSource(Protocol):
    """Where the vectors come from (SQL)."""

    def count(self) -> int: ...

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]: ...

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...


@dataclass
class BuildReport:
    kind: IndexKind
    seconds: float
    train_seconds: float = 0.0
    tune: list[tuple[int, float]] | None = None  # (nprobe, recall@10) tried


def build_index(kind: IndexKind, dim: int, source: VectorSource, *, progress: bool = False,
                on_tuned: Callable[[BuildReport], None] | None = None) -> tuple[VectorIndex, BuildReport]:
    t0 = time.perf_counter()
    n = source.count()
    if not kind.is_ivf:
        index = VectorIndex(dim, kind)
        for ids, vecs in _progress(source.batches(), n, progress, "building exact index"):
            index.add(ids, vecs)
        return index, BuildReport(kind, time.perf_counter() - t0)
    faiss = _faiss()  # its OpenMP threads sleep when idle (see encoders.openmp)

    raw = new_faiss_index(kind, dim)
    ivf = faiss.extract_index_ivf(raw)
    ivf.cp.niter = KMEANS_ITERATIONS
    _, train = source.sample(min(n, TRAIN_PER_LIST * kind.nlist), seed=1)
    t_train = time.perf_counter()
    raw.train(np.ascontiguousarray(train, dtype=np.float32))
    train_seconds = time.perf_counter() - t_train
    del train
    q_ids, queries = source.sample(min(QUERY_SAMPLE, max(1, n // 20)), seed=2)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    truth = _RunningTopK(len(queries), RECALL_K + 1)
    top_id = 0
    for ids, vecs in _progress(source.batches(), n, progress, f"building {kind.name} index"):
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        raw.add_with_ids(vecs, np.ascontiguousarray(ids, dtype=np.int64))
        top_id = max(top_id, int(ids.max()))
        scores, pos = faiss.knn(queries, vecs, min(RECALL_K + 1, len(vecs)), metric=faiss.METRIC_INNER_PRODUCT)
        truth.merge(scores, np.where(pos >= 0, ids[np.clip(pos, 0, None)], -1))
    exact = [set(_without(row, q)[:RECALL_K]) for row, q in zip(truth.ids, q_ids.tolist())]
    depth = candidates_for(kind, RECALL_K)
    tried: list[tuple[int, float]] = []
    nprobe = 1
    while True:
        ivf.nprobe = nprobe
        _, found = raw.search(queries, depth + 1)
        hits = sum(len(want & set(_without(row, q)[:depth])) for want, row, q in zip(exact, found, q_ids.tolist()))
        recall = hits / max(1, sum(len(w) for w in exact))
        tried.append((nprobe, recall))
        if recall >= TARGET_RECALL or nprobe >= kind.nlist:
            break
        nprobe = min(kind.nlist, nprobe * 2)
    tuned = replace(kind, nprobe=nprobe, recall_at_10=round(recall, 4), sample=len(queries), built_for=n)
    index = VectorIndex(dim, tuned, raw, max_id=top_id)
    report = BuildReport(tuned, time.perf_counter() - t0, train_seconds, tried)
    log.info("built %s over %d vectors in %.1f s (tried nprobe/recall: %s)", tuned.describe(), n,
             report.seconds, ", ".join(f"{p}:{r:.3f}" for p, r in tried))
    if on_tuned:
        on_tuned(report)
    return index, report


def _without(row: np.ndarray, own_id: int) -> list[int]:
    return [int(i) for i in row if i >= 0 and int(i) != own_id]


class _RunningTopK:
    """The exact top-k of each query over batches seen so far."""

    def __init__(self, nq: int, k: int):
        self.k = k
        self.scores = np.full((nq, k), -np.inf, dtype=np.float32)
        self.ids = np.full((nq, k), -1, dtype=np.int64)

    def merge(self, scores: np.ndarray, ids: np.ndarray) -> None:
        scores = np.where(ids < 0, -np.inf, scores)
        all_s = np.concatenate([self.scores, scores], axis=1)
        all_i = np.concatenate([self.ids, ids], axis=1)
        order = np.argsort(-all_s, axis=1, kind="stable")[:, : self.k]
        self.scores = np.take_along_axis(all_s, order, 1)
        self.ids = np.take_along_axis(all_i, order, 1)


def _progress(batches: Iterator[tuple[np.ndarray, np.ndarray]], total: int, show: bool,
              desc: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    with tqdm(total=total, desc=desc, unit="vec", disable=not show, leave=False) as bar:
        for ids, vecs in batches:
            yield ids, vecs
            bar.update(len(ids))
