"""The FAISS index: inner product over L2-normalised vectors, ids are SQL unit ids
(``IndexIDMap2``). Saved atomically together with the SQL generation it reflects."""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from searchengine.atomic_files import atomic_write_bytes
from searchengine.errors import IndexDamagedError

log = logging.getLogger(__name__)

INDEX_TYPE = "IDMap2,Flat"
METRIC = "inner_product"
GPU_MAX_K = 2048  # FAISS GPU indexes refuse larger k; those searches run on the CPU copy
GPU_RECOPY_S = 30.0  # while the index keeps changing, refresh the GPU copy at most this often


def _faiss():
    import faiss

    return faiss


@functools.lru_cache(maxsize=1)
def _num_gpus() -> int:
    return int(_faiss().get_num_gpus())


class VectorIndex:
    """An in-memory FAISS index with explicit ids."""

    def __init__(self, dim: int, index=None):
        faiss = _faiss()
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if self._index.d != dim:
            raise IndexDamagedError(f"FAISS index has dimension {self._index.d}, expected {dim}")
        self._gpu_index: Any = None  # None: no current copy; False: no usable GPU
        self._gpu_copied_at = 0.0
        self.generation = -1  # the SQL write generation this index reflects

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return _faiss().vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        self._gpu_stale()

    def remove(self, ids: Iterable[int]) -> int:
        arr = np.asarray(list(ids), dtype=np.int64)
        if arr.size == 0:
            return 0
        removed = int(self._index.remove_ids(arr))
        self._gpu_stale()
        return removed

    def _gpu_stale(self) -> None:
        if self._gpu_index is not False:  # False: no usable GPU, for good
            self._gpu_index = None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) per query row; ids of -1 mean fewer than k vectors."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, max(self.ntotal, 1)))
        return self._searcher(k).search(queries, k)

    def _searcher(self, k: int):
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

    def to_bytes(self) -> bytes:
        return _faiss().serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, dim: int, data: bytes) -> "VectorIndex":
        return cls(dim, _faiss().deserialize_index(np.frombuffer(data, dtype=np.uint8)))


def save_vector_index(index: VectorIndex, path: Path, generation: int) -> None:
    save_vector_bytes(path, index.to_bytes(), generation, index.ntotal)


def save_vector_bytes(path: Path, data: bytes, generation: int, ntotal: int) -> None:
    """Write a serialised FAISS index, then its stamp (generation, count). A crash in
    between leaves a stamp that does not match, which makes the next open rebuild from SQL."""
    atomic_write_bytes(path, data)
    stamp = {"generation": generation, "ntotal": ntotal}
    atomic_write_bytes(_stamp_path(path), json.dumps(stamp).encode())


def load_vector_index(path: Path, dim: int, generation: int, count: int) -> VectorIndex | None:
    """The saved index if it reflects SQL ``generation`` and ``count``, else None."""
    stamp_path = _stamp_path(path)
    if not path.is_file() or not stamp_path.is_file():
        return None
    try:
        stamp = json.loads(stamp_path.read_text())
        if stamp.get("generation") != generation or stamp.get("ntotal") != count:
            log.warning(
                "FAISS file is stale (generation %s, SQL has %s); it will be rebuilt",
                stamp.get("generation"), generation,
            )
            return None
        index = VectorIndex.from_bytes(dim, path.read_bytes())
    except Exception as exc:
        log.warning("FAISS file %s unreadable (%s); it will be rebuilt from SQL", path, exc)
        return None
    if index.ntotal != count:
        return None
    return index


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".stamp.json")
