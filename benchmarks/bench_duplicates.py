"""Duplicates on large indexes: build synthetic photos with planted near-duplicates and exact
copies through the real write path, then time the whole ``duplicates`` pass.

    python benchmarks/bench_duplicates.py --n 100000 1000000 [--threshold 0.95] [--json FILE]

Photos are bench_scale.py's 512-d mixture (random pairs ~0.39, nearest neighbour ~0.78: no
natural pair reaches 0.95), written with ``Catalog.store_files``; the FAISS kind is the one
the engine picks by size (``auto``: ivf-sq8 from 50,000). Planted: 1% of the photos get an
edited copy (a vector at cosine 0.95-0.995 to the original, other content hash) and 0.1% an
exact copy (same content hash, same vector).

Per N it prints the seconds of the whole pass (exact and near: ``searchengine duplicates
--json`` in a fresh process, mapping the saved index), its CPU seconds and peak RSS, the planted near pairs found in one group (recall)
and the groups that are not planted (extra), exact groups found vs planted; and a brute-force
baseline: every pair of a subset of the photos scored exactly (blocked matrix products),
extrapolated to N x N, as a ratio to the pass. Ratios are of CPU seconds (all threads), which
a machine shared with other jobs disturbs less than wall seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import DIM, Mixture, _normalise, open_new, path_of, reopen, timed_cli, writes_for  # noqa: E402

from searchengine.store.repository import FileWrite, NewUnit  # noqa: E402

EDITED = 0.01  # share of photos with a planted near-duplicate
COPIED = 0.001  # share with an exact copy
BRUTE_SUBSET = 20_000


def near_copies(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vectors at a cosine drawn in [0.95, 0.995] to the rows of ``v``."""
    cos = rng.uniform(0.95, 0.995, len(v)).astype(np.float32)[:, None]
    r = rng.standard_normal(v.shape).astype(np.float32)
    r = _normalise(r - np.sum(r * v, axis=1, keepdims=True) * v)
    return _normalise(cos * v + np.sqrt(1 - cos**2) * r)


def build(folder: Path, n: int, mix: Mixture, batch: int = 5000) -> tuple[dict, list[tuple[str, str]], int]:
    """(build figures, planted near pairs as paths, planted exact copies)."""
    engine = open_new(folder)
    engine.repo.add_roots(["/synthetic"])
    rng = np.random.default_rng(7)
    planted: list[tuple[str, str]] = []
    copies = 0
    t = time.perf_counter()
    for start in range(0, n, batch):
        vecs = mix.draw(min(batch, n - start), seed=10_000 + start)
        writes = writes_for(start, vecs)
        edited = np.nonzero(rng.random(len(vecs)) < EDITED)[0]
        for j, v in zip(edited.tolist(), near_copies(vecs[edited], rng)):
            path = path_of(start + j).replace(".jpg", "-edited.jpg")
            writes.append(FileWrite(path=path, modality="image", content_hash=f"edited{start + j:058x}",
                                    size=50_000, mtime_ns=1, units=[NewUnit(None, None, None, v)]))
            planted.append((path_of(start + j), path))
        for j in np.nonzero(rng.random(len(vecs)) < COPIED)[0].tolist():
            original = writes[j]
            writes.append(FileWrite(path=original.path.replace(".jpg", "-copy.jpg"), modality="image",
                                    content_hash=original.content_hash, size=original.size, mtime_ns=1,
                                    units=original.units))
            copies += 1
        engine.catalog.store_files(writes)
    with engine.catalog.write_lock():
        engine.catalog.save(final=True)
    kind = engine.catalog.kind
    engine.close()
    return {"build_seconds": round(time.perf_counter() - t, 1), "kind": kind.describe()}, planted, copies


def brute_pairs_seconds(folder: Path, subset: int, threshold: float) -> tuple[float, int]:
    """CPU seconds (all threads) to score every pair of the first ``subset`` photos exactly
    (float32 matrix products, BLAS on every core), and the pairs at the threshold."""
    engine = reopen(folder)
    ids, vecs = [], []
    for batch_ids, batch_vecs in engine.repo.iter_vectors(DIM):
        ids.append(batch_ids)
        vecs.append(batch_vecs)
        if sum(len(i) for i in ids) >= subset:
            break
    engine.close()
    x = np.concatenate(vecs)[:subset]
    t = time.process_time()
    pairs = 0
    for a in range(0, len(x), 4096):
        s = x[a:a + 4096] @ x.T
        rows, cols = np.nonzero(s >= threshold)
        pairs += int(np.sum(cols > rows + a))
    return time.process_time() - t, pairs


def run(n: int, threshold: float, keep: Path | None) -> dict:
    folder = (keep or Path(tempfile.mkdtemp(prefix="bench-dups-"))) / f"n{n}"
    mix = Mixture()
    out: dict = {"n": n}
    figures, planted, copies = build(folder, n, mix)
    out.update(figures)
    # the pass in a fresh CLI process: its seconds, CPU seconds (all threads) and peak RSS
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, peak_gb, stdout = timed_cli(["duplicates", "--index", str(folder), "--threshold", str(threshold),
                                          "--json"])
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(stdout)
    out.update(duplicates_seconds=round(seconds, 1),
               duplicates_cpu_seconds=round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
               cli_peak_rss_gb=round(peak_gb, 2), photos_compared=report["photos"], index_type=report["index_type"])
    # an exact copy may stand for its original in a near group
    group_of = {f["path"].replace("-copy.jpg", ".jpg"): k for k, g in enumerate(report["near"]) for f in g["files"]}
    found = sum(1 for a, b in planted if a in group_of and group_of[a] == group_of.get(b))
    planted_groups = {group_of[a] for a, b in planted if a in group_of and group_of[a] == group_of.get(b)}
    out.update(planted_near=len(planted), found_near=found, near_recall=round(found / max(1, len(planted)), 4),
               extra_near_groups=len(report["near"]) - len(planted_groups),
               planted_exact=copies, found_exact=report["exact_total"])
    subset = min(n, BRUTE_SUBSET)
    brute_s, brute_pairs = brute_pairs_seconds(folder, subset, threshold)
    # all pairs of N photos cost (N / subset)^2 times the subset's
    total = report["photos"]
    brute_total = brute_s * (total / subset) ** 2
    out.update(brute_subset=subset, brute_subset_cpu_seconds=round(brute_s, 2), brute_subset_pairs=brute_pairs,
               brute_extrapolated_cpu_seconds=round(brute_total, 1),
               cpu_speedup_vs_brute=round(brute_total / max(out["duplicates_cpu_seconds"], 1e-9), 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100_000])
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--keep", type=Path, help="Build the indexes under this folder (and keep them).")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    results = []
    for n in args.n:
        result = run(n, args.threshold, args.keep)
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
