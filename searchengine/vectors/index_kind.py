"""Which FAISS index an index uses, chosen by its size (or named by the user).

Following FAISS's guidelines ("Guidelines to choose an index"): exact search while it is
fast enough, an inverted file (IVF) above that, with about sqrt(N) lists. Measured on this
project's 2-core machine (``benchmarks/bench_scale.py``): exact search costs about 0.2 ms per
1,000 vectors of 512 dimensions, so below :data:`FLAT_MAX` it stays under 10 ms and needs no
training; IVF with 8-bit scalar-quantised lists (``ivf-sq8``: d bytes a vector, a quarter of
Flat) answers 1M vectors in a few ms with recall@10 >= 0.95 once ``nprobe`` is tuned, and the
top candidates are re-scored exactly from the float32 vectors kept in SQL. ``ivf-pq`` (64
bytes a vector) is for memory that is tighter still; ``ivf-flat`` keeps exact codes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from searchengine.errors import InvalidInputError

FLAT_MAX = 50_000  # auto: exact search up to this many vectors
AUTO = "auto"
KIND_NAMES = ("flat", "ivf-flat", "ivf-sq8", "ivf-pq")
AUTO_ANN = "ivf-sq8"
TARGET_RECALL = 0.95
PQ_MIN = 256 * 39  # PQ codebooks have 256 centroids each: FAISS wants 39 training vectors a centroid


@dataclass(frozen=True)
class IndexKind:
    """A FAISS index type and its parameters. ``nprobe`` and ``recall_at_10`` are what the
    build measured (recall of the search pipeline against exact search, on ``sample``
    held-aside queries); ``built_for`` is the vector count it was sized for."""

    name: str = "flat"
    nlist: int = 0
    nprobe: int = 0
    recall_at_10: float | None = None
    sample: int = 0
    built_for: int = 0

    @property
    def approximate(self) -> bool:
        """Scores from FAISS are approximate: re-score the candidates exactly."""
        return self.name in ("ivf-sq8", "ivf-pq")

    @property
    def is_ivf(self) -> bool:
        return self.name != "flat"

    def factory(self, dim: int) -> str:
        lists = {"ivf-flat": "Flat", "ivf-sq8": "SQ8", "ivf-pq": f"PQ{pq_m(dim)}x8"}
        return f"IVF{self.nlist},{lists[self.name]}"

    def describe(self) -> str:
        if self.name == "flat":
            return "flat (exact)"
        recall = f", recall@10 {self.recall_at_10:.3f}" if self.recall_at_10 is not None else ""
        return f"{self.name} (nlist {self.nlist}, nprobe {self.nprobe}{recall})"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "IndexKind":
        name = str(data.get("name", "flat"))
        if name not in KIND_NAMES:
            raise ValueError(f"unknown index kind {name!r}")
        return cls(name=name, nlist=int(data.get("nlist", 0)), nprobe=int(data.get("nprobe", 0)),
                   recall_at_10=data.get("recall_at_10"), sample=int(data.get("sample", 0)),
                   built_for=int(data.get("built_for", 0)))


FLAT = IndexKind()


def pq_m(dim: int) -> int:
    """PQ sub-quantisers: 64 (or fewer, dividing ``dim``)."""
    for m in (64, 48, 32, 24, 16, 12, 8, 4, 2, 1):
        if dim % m == 0:
            return m
    return 1  # pragma: no cover


def nlist_for(n: int) -> int:
    """About sqrt(N) lists, a power of two, at least 64 and with >= 39 vectors per list to
    train on (FAISS warns below that)."""
    target = 2 ** round(math.log2(max(1.0, math.sqrt(max(n, 1)))))
    return int(max(64, min(target, 65536, max(64, n // 39))))


def check_policy(policy: str) -> str:
    """``auto`` or one of :data:`KIND_NAMES`; a clear error otherwise."""
    value = (policy or AUTO).strip().lower()
    if value != AUTO and value not in KIND_NAMES:
        raise InvalidInputError(
            f"unknown index type {policy!r} for --index-type; choose auto, {', '.join(KIND_NAMES)}"
        )
    return value


def choose_kind(policy: str, n: int) -> IndexKind:
    """The kind to build for ``n`` vectors under ``policy`` (untuned: nprobe 0)."""
    name = check_policy(policy)
    if name == AUTO:
        name = "flat" if n < FLAT_MAX else AUTO_ANN
    if name == "flat":
        return replace(FLAT, built_for=n)
    if n < 64 * 4 or (name == "ivf-pq" and n < PQ_MIN):  # too few to train on: exact it is
        return replace(FLAT, built_for=n)
    return IndexKind(name=name, nlist=nlist_for(n), built_for=n)


def needs_rebuild(policy: str, kind: IndexKind, n: int) -> bool:
    """The index has grown (or shrunk) out of the kind it was built as: under ``auto``,
    flat past :data:`FLAT_MAX`; under a named kind, flat (too small to train, then) once
    there are enough vectors; and IVF lists sized for a count 4x away from today's."""
    wanted = choose_kind(policy, n)
    if wanted.name != kind.name:
        # hysteresis: under auto, an IVF index is kept down to half the threshold
        return not (check_policy(policy) == AUTO and kind.is_ivf and n >= FLAT_MAX // 2)
    if kind.is_ivf and kind.built_for:
        return n > 4 * kind.built_for or n * 4 < kind.built_for
    return False


def candidates_for(kind: IndexKind, k: int) -> int:
    """How many FAISS candidates a search of ``k`` asks for: more than ``k`` when the
    scores are approximate, so that the exact re-scoring can put the true top ``k`` first."""
    return max(4 * k, 40) if kind.approximate else k
