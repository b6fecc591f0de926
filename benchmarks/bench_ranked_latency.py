"""Warm latency of ranked searches (the default path: hybrid, every kind, one hit per file) on
an index you already have, in process. Prints p50 and p95; asserts nothing.

    .venv/bin/python benchmarks/bench_ranked_latency.py INDEX [--queries 40] [--warm 5]

The queries are imagenet-dev's English prompts (../shared/data). Run it twice on the same
index with two checkouts (PYTHONPATH) to compare rankings; the machine's load moves it a lot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchengine import SearchEngine  # noqa: E402

PROMPTS = ROOT.parent / "shared" / "data" / "imagenet-dev" / "manifest.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--warm", type=int, default=5)
    args = ap.parse_args()
    rows = [json.loads(line) for line in PROMPTS.read_text().splitlines() if line.strip()]
    queries = [r["texts"][0] for r in rows][: args.queries]
    with SearchEngine.open(args.index, create=False) as engine:
        for q in queries[: args.warm]:
            engine.search(q, k=10)
        times = []
        for q in queries:
            t = time.perf_counter()
            engine.search(q, k=10)
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"{len(times)} queries: p50 {1000 * statistics.median(times):.1f} ms, "
          f"p95 {1000 * times[max(0, int(0.95 * len(times)) - 1)]:.1f} ms")


if __name__ == "__main__":
    main()
