"""SQLite in the index folder against PostgreSQL by URL, side by side, with the ratios:

    python benchmarks/bench_pg.py [--n 20000] [--database-url postgresql+psycopg://...] [--json FILE]

Without ``--database-url`` it starts a throw-away PostgreSQL 15 server (tests/pg_server.py)
with PostgreSQL's durable defaults (fsync on, synchronous_commit on), on 127.0.0.1 - a
network round trip per statement, as a server on another machine has, minus the wire time.

Per backend: write throughput (items/s through ``Catalog.store_files``, the bulk path an
indexing run uses; 512-d synthetic items of bench_scale.py, 1,000 a transaction); a new
replica's cold start (PostgreSQL: a second folder with no FAISS file builds it from SQL;
SQLite: a second engine on the same folder maps the saved file); a replica's catch-up after
the writer added 1,000 items and removed 100; and the replica's query p50 / p95 (exact
top 10 over N vectors, flat: N is below the IVF threshold at the default size).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import DIM, MODEL, Mixture, writes_for  # noqa: E402

from searchengine.config import Settings  # noqa: E402
from searchengine.engine import SearchEngine  # noqa: E402
from searchengine.catalog.manifest import Manifest  # noqa: E402
from searchengine.store.database import head_revision  # noqa: E402

BATCH = 1000


def _settings(base: Path, url: str | None) -> Settings:
    return Settings.from_env(model="offline:minilm-effnet", index_root=base, database_url=url or "")


def open_new(folder: Path, url: str | None) -> SearchEngine:
    engine = SearchEngine.open(folder, settings=_settings(folder.parent, url))
    engine._manifest = Manifest(model=MODEL, dim=DIM, metric="inner_product", index_type="flat",
                                schema_revision=head_revision(), precision="fp32")
    engine._save_manifest()  # the folder's manifest, and (PostgreSQL) the database's copy
    engine.close()
    return SearchEngine.open(folder, settings=_settings(folder.parent, url))


def run(base: Path, url: str | None, n: int, queries: int) -> dict:
    mix = Mixture()
    writer = open_new(base / "writer", url)
    write_s = 0.0
    with writer.catalog.write_lock():
        for start in range(0, n, BATCH):
            writes = writes_for(start, mix.draw(min(BATCH, n - start), seed=10_000 + start))
            t = time.perf_counter()
            writer.catalog.store_files(writes)
            write_s += time.perf_counter() - t
        writer.catalog.save(final=True)

    t = time.perf_counter()
    replica_folder = base / ("replica" if url else "writer")  # SQLite: the same file, another engine
    replica = SearchEngine.open(replica_folder, settings=_settings(base, url), create=False)
    replica.vectors  # noqa: B018 - open (map the file, or build it from SQL)
    cold_s = time.perf_counter() - t

    with writer.catalog.write_lock():
        writer.catalog.store_files(writes_for(n, mix.draw(1000, seed=99), salt="new"))
        gone = [r.id for r in list(writer.repo.files().values())[:100]]
        writer.catalog.delete_files(gone)
        writer.catalog.save()
    t = time.perf_counter()
    replica.catalog.sync(force=True)
    catch_up_s = time.perf_counter() - t
    assert replica.catalog.count() == writer.catalog.count() == n + 900, (replica.catalog.count(), n)

    qs = mix.draw(queries, seed=7)
    for q in qs[:10]:
        replica.search_vector(q, k=10)  # warm
    times = []
    for q in qs:
        t = time.perf_counter()
        replica.search_vector(q, k=10)
        times.append((time.perf_counter() - t) * 1000)
    same = all([h.id for h in replica.search_vector(q, k=10)] == [h.id for h in writer.search_vector(q, k=10)]
               for q in qs[:20])
    replica.close()
    writer.close()
    return {"write_items_per_s": round(n / write_s), "replica_cold_start_s": round(cold_s, 3),
            "catch_up_1000_added_100_removed_s": round(catch_up_s, 3),
            "query_p50_ms": round(float(np.percentile(times, 50)), 2),
            "query_p95_ms": round(float(np.percentile(times, 95)), 2),
            "replica_agrees_with_writer": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: start a throw-away server)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    server = None
    url = args.database_url
    if url is None:
        import pg_server

        why = pg_server.available()
        if why:
            raise SystemExit(f"cannot start PostgreSQL: {why}; pass --database-url")
        server = pg_server.start(durable=True)
        url = server.create_database("bench")
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    try:
        results = {}
        for name, u in (("sqlite", None), ("postgresql", url)):
            results[name] = run(base / name, u, args.n, args.queries)
            print(f"{name:>10}: " + ", ".join(f"{k} {v}" for k, v in results[name].items()), flush=True)
        s, p = results["sqlite"], results["postgresql"]
        ratios = {k: round(p[k] / s[k], 2) for k in s if isinstance(s[k], (int, float)) and not isinstance(s[k], bool)
                  and s[k]}
        results["ratios_postgresql_over_sqlite"] = ratios
        results["n"] = args.n
        print(f"{'ratio':>10}: " + ", ".join(f"{k} {v}x" for k, v in ratios.items()))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
