"""Warm HTTP latency of two checkouts, paired: bench_http's load (concurrent clients, the same
text and image requests, bounded in count and time) against indexes each checkout has already
built, the two servers alternated round by round so that both see the same machine.

    python benchmarks/bench_http_pair.py OLD_TREE:OLD_INDEX_ROOT NEW_TREE:NEW_INDEX_ROOT \
        --photos DIR [--rounds 4] [--clients 4] [--requests 200] [--seconds 60] [--index bench]

Each TREE is a checkout of searchengine (its code runs the server: ``PYTHONPATH=TREE``, this
interpreter); each INDEX_ROOT holds an index named ``--index`` built by that checkout (for
example with ``searchengine index DIR --index bench --index-root ROOT``), so a paired run needs
no rebuild. Query images are the first 50 files of ``--photos``. Prints per round p50/p95
latency and server CPU per request for each kind, then the medians and the NEW/OLD p50 ratio
per round and its median. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from bench_http import free_port, query_requests, run_load  # this folder: the same requests and load

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start(tree: Path, root: Path, index: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, SEARCHENGINE_INDEX_ROOT=str(root), PYTHONPATH=str(tree))
    server = subprocess.Popen([sys.executable, "-m", "searchengine.cli", "serve", "--index", index,
                               "--port", str(port)], env=env, cwd=tree, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"the server of {tree} exited ({server.returncode}); is {root}/{index} an index it built?")
        time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"the server of {tree} did not answer in time")


def run(tree: Path, root: Path, args: argparse.Namespace, probes: list[bytes]) -> dict[str, tuple[float, float, int, float]]:
    server, base = start(tree, root, args.index)
    out = {}
    try:
        for kind, request in zip(("text", "image"), query_requests(probes)):
            cpu0 = [0.0]  # the server's CPU seconds once warm

            def warm(pid: int = server.pid, at: list[float] = cpu0) -> None:
                at[0] = cpu_seconds(pid)

            latencies, _ = run_load(base, request, args.clients, args.requests, args.seconds, on_start=warm)
            out[kind] = (statistics.median(latencies), float(np.percentile(latencies, 95)), len(latencies),
                         (cpu_seconds(server.pid) - cpu0[0]) * 1000 / len(latencies))
    finally:
        server.terminate()
        server.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="TREE:INDEX_ROOT of the baseline")
    parser.add_argument("new", help="TREE:INDEX_ROOT of the checkout measured against it")
    parser.add_argument("--photos", type=Path, required=True, help="folder of query photos (first 50 files)")
    parser.add_argument("--index", default="bench")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="per query kind and round")
    parser.add_argument("--seconds", type=float, default=60, help="time bound per query kind and round")
    args = parser.parse_args()
    sides = {}
    for label in ("old", "new"):
        tree, _, root = getattr(args, label).partition(":")
        sides[label] = (Path(tree).resolve(), Path(root).resolve())
    probes = [p.read_bytes() for p in sorted(args.photos.iterdir()) if p.is_file()][:50]
    if not probes:
        raise SystemExit(f"no query photos in {args.photos}")
    results: dict[str, list[dict[str, tuple[float, float, int, float]]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for label in (("old", "new") if r % 2 == 0 else ("new", "old")):
            m = run(*sides[label], args, probes)
            results[label].append(m)
            print(f"round {r} {label}: " + "  ".join(
                f"{k} p50 {v[0]:6.1f} p95 {v[1]:6.1f} n={v[2]} cpu/req {v[3]:5.1f} ms" for k, v in m.items())
                  + f"  load {os.getloadavg()[0]:.1f}", flush=True)
    print("medians over rounds:")
    for label in ("old", "new"):
        for kind in ("text", "image"):
            ms = [m[kind] for m in results[label]]
            print(f"  {label} {kind:5} p50 {statistics.median(m[0] for m in ms):6.1f}  "
                  f"p95 {statistics.median(m[1] for m in ms):6.1f}  cpu/req {statistics.median(m[3] for m in ms):5.1f} ms")
    for kind in ("text", "image"):
        p50 = [n[kind][0] / o[kind][0] for o, n in zip(results["old"], results["new"])]
        p95 = [n[kind][1] / o[kind][1] for o, n in zip(results["old"], results["new"])]
        print(f"  new/old {kind}: p50 ratio per round {[round(x, 2) for x in p50]} median {statistics.median(p50):.2f}; "
              f"p95 ratio median {statistics.median(p95):.2f}")


if __name__ == "__main__":
    main()
