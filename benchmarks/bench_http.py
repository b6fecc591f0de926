"""Warm query latency over HTTP under a few concurrent clients (loopback only).

    python benchmarks/bench_http.py [--images 300] [--clients 4] [--requests 200] [--model SPEC]

Builds an index of a few hundred photos (../shared/data, or --source DIR) plus the project's
sample notes and recordings, starts `searchengine serve` on a free loopback port in a
subprocess, warms it, then runs text queries (GET /api/search) and image queries (POST
/api/search/image) from concurrent clients, bounded in count and time. Prints p50/p95
latency per kind and the request rate.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_engine import pick_images  # noqa: E402

WORDS = ["dog", "cat", "a red car", "bird on a branch", "fish", "a wooden house", "tree", "boat on water",
         "a person smiling", "flowers", "printing press", "coffee", "mountain", "a bowl of fruit"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Request = Callable[[httpx.Client, int], None]


def query_requests(probes: list[bytes]) -> tuple[Request, Request]:
    """bench_http's two requests: a text search (a random word and the request number, so
    no two are alike) and an image search with one of ``probes``."""
    def text_request(client: httpx.Client, i: int) -> None:
        client.get("/api/search", params={"q": f"{random.choice(WORDS)} {i}", "k": 20}).raise_for_status()

    def image_request(client: httpx.Client, i: int) -> None:
        client.post("/api/search/image", files={"file": ("q.jpg", probes[i % len(probes)])},
                    data={"k": "20"}).raise_for_status()

    return text_request, image_request


def run_load(base: str, request: Request, clients: int, requests: int, seconds: float,
             on_start: Callable[[], None] | None = None) -> tuple[list[float], float]:
    """Warm with 5 requests, then (``on_start()`` called) ``clients`` concurrent clients send
    ``request`` until ``requests`` have been sent or ``seconds`` have passed: the latencies in
    ms and the load's wall seconds."""
    with httpx.Client(base_url=base) as warm:
        for i in range(5):
            request(warm, i)
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    stop_at = time.time() + seconds

    def client_loop() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while time.time() < stop_at:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                request(client, i)
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)

    if on_start is not None:
        on_start()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=200, help="per query kind")
    ap.add_argument("--seconds", type=float, default=120, help="time bound per query kind")
    ap.add_argument("--model", default="offline:minilm-effnet")
    ap.add_argument("--source", type=Path, default=None)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="se-http-bench-"))
    env = dict(os.environ, SEARCHENGINE_INDEX_ROOT=str(work / "indexes"), SEARCHENGINE_READ_TEXT="now")  # queries time a finished index
    exe = [sys.executable, "-m", "searchengine.cli"]
    server = None
    try:
        media = work / "media"
        media.mkdir()
        images = pick_images(args.source, args.images)
        for i, src in enumerate(images):
            shutil.copy(src, media / f"{i:05d}{src.suffix.lower()}")
        shutil.copytree(ROOT / "samples" / "notes", media / "notes")
        shutil.copytree(ROOT / "samples" / "audio", media / "audio")
        subprocess.run(exe + ["index", str(media), "--index", "bench", "--model", args.model,
                              "--asr-model", "tiny.en"], env=env, check=True)
        port = free_port()
        server = subprocess.Popen(exe + ["serve", "--index", "bench", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        items = httpx.get(base + "/api/status").json()["vectors"]
        probes = [p.read_bytes() for p in sorted(media.glob("*.*"))[:50]]

        text_request, image_request = query_requests(probes)

        print(f"index: {items} vectors ({len(images)} photos + sample notes and recordings), model {args.model}")
        print(f"load: {args.clients} concurrent clients, up to {args.requests} requests or {args.seconds:.0f} s per kind")
        for name, fn in (("text", text_request), ("image", image_request)):
            latencies, wall = run_load(base, fn, args.clients, args.requests, args.seconds)
            print(f"{name:5} queries: n={len(latencies)}  p50 {statistics.median(latencies):.1f} ms  "
                  f"p95 {np.percentile(latencies, 95):.1f} ms  ({len(latencies) / wall:.1f} req/s)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
