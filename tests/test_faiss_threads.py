"""One query on an exact index searches with one OpenMP thread (a warm query's FAISS step
was mostly waking the sleeping team on a busy machine), with the same answer, and leaves
the calling thread's OpenMP setting as it found it."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from searchengine.vectors.faiss_index import VectorIndex, _faiss


class _Spy:
    """Stands for the FAISS index: notes the OpenMP thread count each search runs with."""

    def __init__(self, index: Any):
        self.index, self.threads = index, []

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(_faiss().omp_get_max_threads())
        return self.index.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


def _index(n: int = 300, dim: int = 32) -> tuple[VectorIndex, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = VectorIndex(dim)
    index.add(np.arange(1, n + 1, dtype=np.int64) * 7, x)
    return index, x


def test_one_query_runs_on_one_thread_with_the_batch_answer():
    faiss = _faiss()
    index, x = _index()
    batch_scores, batch_ids = index.search(x[:5], 40)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)  # this thread's setting only
    try:
        spy = _Spy(index._index)
        index._index = spy
        scores, ids = index.search(x[2], 40)
        assert spy.threads == [1]
        assert faiss.omp_get_max_threads() == 2  # given back
        np.testing.assert_array_equal(ids[0], batch_ids[2])
        np.testing.assert_array_equal(scores[0], batch_scores[2])
        index.search(x[:3], 40)  # a batch keeps the team
        assert spy.threads == [1, 2]
        index.search(x[2], 40, allowed=np.asarray([7, 14, 21], dtype=np.int64))  # filtered: the same rule
        assert spy.threads == [1, 2, 1] and faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)


def test_other_threads_keep_their_setting_while_one_searches():
    faiss = _faiss()
    index, x = _index()
    seen: dict[str, int] = {}
    inside = threading.Event()
    release = threading.Event()

    class Slow(_Spy):
        def search(self, *args: Any, **kwargs: Any) -> Any:
            inside.set()
            release.wait(10)
            return super().search(*args, **kwargs)

    index._index = Slow(index._index)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        searching = threading.Thread(target=lambda: index.search(x[0], 5))
        searching.start()
        assert inside.wait(10)
        seen["main"] = faiss.omp_get_max_threads()  # while the other thread searches on one
        release.set()
        searching.join(10)
        assert seen["main"] == 2 and index._index.threads == [1]
    finally:
        release.set()
        faiss.omp_set_num_threads(before)
