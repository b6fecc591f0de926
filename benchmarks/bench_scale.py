"""A million items on one machine: build synthetic items through the real write path into a
real index, then measure opening, searching, filtering and catching up, per size.

    python benchmarks/bench_scale.py --n 10000 100000 1000000 [--keep DIR] [--json FILE]

Items are 512-d vectors drawn from a mixture of topics and sub-topics (like embeddings, which
are far from uniform: on uniform random vectors no ANN index beats a scan), one unit per file,
in 100 folders (a folder is 1% of the items), with modification times spread over 100 days.
Vectors are written with ``Catalog.store_files`` - the bulk SQL and FAISS path an indexing run
uses - and the FAISS kind is the one the engine picks by size (``auto``).

Per N it prints: build items/s (SQL + FAISS writes; making the vectors excluded) and the
index build (training, tuning) seconds; metadata bytes per item; a fresh CLI process's
``search --similar-to ID`` and ``status`` times and peak RSS; warm query p50/p95 of the
engine's search and of an exact flat scan side by side, and the recall@10 of the engine
against exact; filtered p50 (a 1% folder glob, a 1% name glob, a 1% date window); and the
time for a reader to catch up with 1,000 changed items, in process and in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchengine.config import Settings  # noqa: E402
from searchengine.engine import SearchEngine  # noqa: E402
from searchengine.catalog.manifest import Manifest  # noqa: E402
from searchengine.query.filters import SearchFilters  # noqa: E402
from searchengine.store.database import head_revision  # noqa: E402
from searchengine.store.repository import FileWrite, NewUnit  # noqa: E402

DIM = 512
TOPICS = 100
FOLDERS = 100
DAY_NS = 86_400 * 1_000_000_000
T0_NS = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1e9)
MODEL = "open_clip:ViT-B-32/openai"  # named in the manifest only; never loaded here
SE = str(Path(sys.executable).with_name("searchengine"))


class Mixture:
    """Like image embeddings: a direction all share (random pairs of CLIP image vectors
    have cosine ~0.4), 100 topics of 100 sub-topics each, and per-item detail. Measured on
    100k of them: random pairs 0.39, nearest neighbour 0.78, 10th 0.72; an IVF256,SQ8 index
    finds 84% of the exact top-10 among its top-40 at nprobe 1, 98% at 2 (harder mixtures
    need more lists probed: the build tunes nprobe on the data either way)."""

    def __init__(self, seed: int = 0, dim: int = DIM):
        rng = np.random.default_rng(seed)
        self.dim = dim
        unit = lambda n: _normalise(rng.standard_normal((n, dim)).astype(np.float32))  # noqa: E731
        self.mean = unit(1)[0]
        self.topics = unit(TOPICS)
        self.subtopics = unit(TOPICS * 100)

    def draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        sub = rng.integers(0, len(self.subtopics), n)
        detail = _normalise(rng.standard_normal((n, self.dim)).astype(np.float32))
        return _normalise(0.65 * self.mean + 0.5 * self.topics[sub // 100] + 0.4 * self.subtopics[sub]
                          + 0.5 * detail)


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def path_of(i: int) -> str:
    return f"/synthetic/d{i % FOLDERS:03d}/item_{i:07d}.jpg"


def mtime_of(i: int) -> int:
    return T0_NS + (i * 7919 % 100) * DAY_NS + i  # 100 days, 1% a day


def writes_for(start: int, vectors: np.ndarray, salt: str = "") -> list[FileWrite]:
    return [FileWrite(path=path_of(start + j), modality="image", content_hash=f"{salt}{start + j:064x}"[-64:],
                      size=100_000 + j, mtime_ns=mtime_of(start + j), units=[NewUnit(None, None, None, v)])
            for j, v in enumerate(vectors)]


def open_new(folder: Path) -> SearchEngine:
    settings = Settings.from_env(model="offline:minilm-effnet", index_root=folder.parent)
    engine = SearchEngine.open(folder, settings=settings)
    Manifest(model=MODEL, dim=DIM, metric="inner_product", index_type="flat",
             schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
    engine.close()
    return SearchEngine.open(folder, settings=settings)


def reopen(folder: Path) -> SearchEngine:
    return SearchEngine.open(folder, settings=Settings.from_env(index_root=folder.parent), create=False)


def build(folder: Path, n: int, mix: Mixture, batch: int = 5000) -> dict:
    engine = open_new(folder)
    engine.repo.add_roots(["/synthetic"])
    write_s = 0.0
    for start in range(0, n, batch):
        vecs = mix.draw(min(batch, n - start), seed=10_000 + start)
        writes = writes_for(start, vecs)
        t = time.perf_counter()
        engine.catalog.store_files(writes)
        write_s += time.perf_counter() - t
    t = time.perf_counter()
    with engine.catalog.write_lock():
        engine.catalog.save(final=True)  # auto: builds the kind the size calls for
    save_s = time.perf_counter() - t
    kind = engine.catalog.kind
    report = engine.catalog.last_build
    engine.close()
    with __import__("sqlite3").connect(engine.layout.database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_bytes = engine.layout.database.stat().st_size
    return {"build_items_per_s": round(n / write_s), "write_seconds": round(write_s, 1),
            "index_build_seconds": round(save_s, 1),
            "train_seconds": round(report.train_seconds, 1) if report else 0.0,
            "tune": report.tune if report else None,
            "kind": kind.to_json(), "kind_described": kind.describe(),
            "metadata_bytes_per_item": round(db_bytes / n), "faiss_bytes_per_item": round(
                engine.layout.vectors.stat().st_size / n)}


def timed_cli(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS GB, stdout) of a fresh CLI process. The peak is GNU time's %M
    (the rusage of a child forked from this big process would count this process's pages)."""
    gnu_time = shutil.which("time") or "/usr/bin/time"
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as rss:
        t = time.perf_counter()
        proc = subprocess.run([gnu_time, "-f", "%M", "-o", rss.name, SE, *args], stdout=out,
                              stderr=subprocess.PIPE)
        seconds = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode()[-2000:]}")
        out.seek(0)
        peak_kb = int(Path(rss.name).read_text().split()[-1])
        return seconds, peak_kb / 1e6, out.read().decode()


def percentiles(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50)), float(np.percentile(xs, 95))


def measure(folder: Path, n: int, mix: Mixture, queries: int) -> dict:
    out: dict = {}
    some_id = 1 + n // 2
    s1, rss1, _ = timed_cli(["search", "--similar-to", str(some_id), "--index", str(folder), "--json", "--k", "10"])
    s2, rss2, _ = timed_cli(["status", "--index", str(folder), "--json"])
    out.update(cold_search_similar_s=round(s1, 2), cold_status_s=round(s2, 2), cli_peak_rss_gb=round(max(rss1, rss2), 2))

    # exact reference: a flat scan over the same vectors (regenerated, same seeds)
    import faiss

    flat = faiss.IndexFlatIP(DIM)
    for start in range(0, n, 5000):
        flat.add(mix.draw(min(5000, n - start), seed=10_000 + start))
    qs = mix.draw(queries, seed=99)
    exact_ms = []
    truth = []
    for q in qs:
        t = time.perf_counter()
        _, ids = flat.search(q.reshape(1, -1), 10)
        exact_ms.append((time.perf_counter() - t) * 1000)
        truth.append(set((ids[0] + 1).tolist()))  # unit ids are 1-based in write order
    del flat

    engine = reopen(folder)
    t = time.perf_counter()
    engine.search_vector(qs[0], k=10)
    out["in_process_open_first_query_s"] = round(time.perf_counter() - t, 3)
    ann_ms, hits = [], 0
    for q, want in zip(qs, truth):
        t = time.perf_counter()
        got = engine.search_vector(q, k=10)
        ann_ms.append((time.perf_counter() - t) * 1000)
        hits += len(want & {h.id for h in got})
    p50, p95 = percentiles(ann_ms)
    e50, e95 = percentiles(exact_ms)
    out.update(warm_p50_ms=round(p50, 2), warm_p95_ms=round(p95, 2), exact_p50_ms=round(e50, 2),
               exact_p95_ms=round(e95, 2), recall_at_10=round(hits / (10 * len(qs)), 4),
               memory_mapped=engine.vectors.read_only)

    def filtered(filters: SearchFilters, cached: bool) -> tuple[float, bool]:
        times, ok = [], True
        for q in qs[:50]:
            if not cached:
                engine._searcher._allowed.clear()  # resolve the filter in SQL again
            t = time.perf_counter()
            got = engine.search_vector(q, k=10, filters=filters)
            times.append((time.perf_counter() - t) * 1000)
            ok = ok and len(got) == 10 and all(
                filters.matches(h.path, h.modality, mtime_of(h.id - 1)) for h in got)
        return percentiles(times)[0], ok

    in_folder = SearchFilters.of(path_glob="/synthetic/d042/*")
    folder_glob, ok1 = filtered(in_folder, cached=False)
    folder_glob_cached, _ = filtered(in_folder, cached=True)
    name_glob, ok2 = filtered(SearchFilters.of(path_glob="item_*42.jpg"), cached=False)
    day = datetime.fromtimestamp((T0_NS + 42 * DAY_NS) / 1e9, tz=timezone.utc)
    date_window, ok3 = filtered(SearchFilters.of(modified_after=day, modified_before=datetime.fromtimestamp(
        (T0_NS + 43 * DAY_NS - 1) / 1e9, tz=timezone.utc)), cached=False)
    broad, ok4 = filtered(SearchFilters.of(modality="image", path_glob="/synthetic/*"), cached=False)
    # recall of the 1% folder filter against exact search over the folder's items
    flat = faiss.IndexIDMap(faiss.IndexFlatIP(DIM))
    for start in range(0, n, 5000):
        chunk = mix.draw(min(5000, n - start), seed=10_000 + start)
        rows = np.arange(start, start + len(chunk))
        keep = rows % FOLDERS == 42
        flat.add_with_ids(chunk[keep], rows[keep] + 1)
    found = 0
    for q in qs[:50]:
        _, want = flat.search(q.reshape(1, -1), 10)
        found += len(set(want[0].tolist()) & {h.id for h in engine.search_vector(q, k=10, filters=in_folder)})
    del flat
    out.update(filtered_folder_glob_1pct_p50_ms=round(folder_glob, 1),
               filtered_folder_glob_1pct_repeated_p50_ms=round(folder_glob_cached, 1),
               filtered_folder_glob_recall_at_10=round(found / 500, 4),
               filtered_name_glob_1pct_p50_ms=round(name_glob, 1),
               filtered_date_1pct_p50_ms=round(date_window, 1), filtered_broad_p50_ms=round(broad, 1),
               filtered_results_ok=ok1 and ok2 and ok3 and ok4)

    # catch-up: another engine (as another process would) replaces 1,000 items, unsaved
    changed = min(1000, n // 10)
    writer = reopen(folder)
    others = np.setdiff1d(np.arange(n), [some_id - 1])  # keep the item the CLI asks for
    starts = np.random.default_rng(5).choice(others, changed, replace=False)
    new_vecs = mix.draw(changed, seed=77)
    t = time.perf_counter()
    with writer.catalog.write_lock():
        for j in range(0, changed, 500):
            writer.catalog.store_files([w for i, v in zip(starts[j:j + 500], new_vecs[j:j + 500])
                                        for w in writes_for(int(i), v.reshape(1, -1), salt="b")])
    out["write_1000_changed_s"] = round(time.perf_counter() - t, 2)
    writer.close()
    t = time.perf_counter()
    engine.catalog.sync(force=True)
    got = engine.search_vector(new_vecs[0], k=1)
    out["catch_up_1000_in_process_s"] = round(time.perf_counter() - t, 3)
    out["catch_up_found_new"] = bool(got and got[0].score > 0.999)
    out["caught_up_not_rebuilt"] = engine.catalog.last_build is None
    engine.close()
    s3, rss3, _ = timed_cli(["search", "--similar-to", str(some_id), "--index", str(folder), "--json", "--k", "10"])
    out.update(cold_search_after_1000_unsaved_changes_s=round(s3, 2), cli_peak_rss_gb=round(max(out["cli_peak_rss_gb"], rss3), 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--keep", type=Path, help="keep the indexes in this folder (DIR/nN), to open with the CLI")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    mix = Mixture()
    results = {}
    try:
        for n in args.n:
            folder = base / f"n{n}"
            if folder.exists():
                shutil.rmtree(folder)
            print(f"== {n:,} items -> {folder}", flush=True)
            row = build(folder, n, mix)
            print(f"   built: {row['build_items_per_s']:,} items/s, index {row['kind_described']} in "
                  f"{row['index_build_seconds']} s, {row['metadata_bytes_per_item']} B/item SQL, "
                  f"{row['faiss_bytes_per_item']} B/item FAISS", flush=True)
            row.update(measure(folder, n, mix, args.queries))
            print(f"   cold CLI: search --similar-to {row['cold_search_similar_s']} s, status {row['cold_status_s']} s, "
                  f"peak RSS {row['cli_peak_rss_gb']} GB", flush=True)
            print(f"   warm p50/p95: engine {row['warm_p50_ms']}/{row['warm_p95_ms']} ms vs exact scan "
                  f"{row['exact_p50_ms']}/{row['exact_p95_ms']} ms (ratio {row['exact_p50_ms'] / row['warm_p50_ms']:.1f}x), "
                  f"recall@10 {row['recall_at_10']}", flush=True)
            print(f"   filtered p50: folder glob 1% {row['filtered_folder_glob_1pct_p50_ms']} ms (repeated "
                  f"{row['filtered_folder_glob_1pct_repeated_p50_ms']} ms, recall@10 "
                  f"{row['filtered_folder_glob_recall_at_10']}), name glob 1% "
                  f"{row['filtered_name_glob_1pct_p50_ms']} ms, date 1% {row['filtered_date_1pct_p50_ms']} ms, "
                  f"broad {row['filtered_broad_p50_ms']} ms (results ok: {row['filtered_results_ok']})", flush=True)
            print(f"   catch-up of 1,000 changed: in process {row['catch_up_1000_in_process_s']} s "
                  f"(replayed, not rebuilt: {row['caught_up_not_rebuilt']}), fresh CLI "
                  f"{row['cold_search_after_1000_unsaved_changes_s']} s", flush=True)
            results[n] = row
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    largest = results[max(results)]
    summary = {"sizes": results, "n": max(results), "warm_p50_ms": largest["warm_p50_ms"],
               "recall_at_10": largest["recall_at_10"]}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
