"""Peak memory of `searchengine serve` under concurrent /api/duplicates requests (issue 21:
8 concurrent requests over 1,500 similar photos at threshold 0.5 peaked at 1.9 GB).

    python benchmarks/bench_duplicates_http.py [--photos 1500] [--clients 8] [--json FILE]

Builds an index of ``--photos`` synthetic 512-d photo vectors that are all alike (each at a
cosine drawn in [0.93, 0.98] to one shared direction, so that any two are at about 0.87-0.96:
every pair is a near-duplicate at the HTTP floor of 0.8, N²/2 pairs), written through the
real write path (bench_scale's helpers; the manifest names the offline model, which the
server loads at start), then starts ``searchengine serve`` on it in its own
process. After a warm-up request, the server's peak RSS is reset (``/proc/PID/clear_refs``)
and ``--clients`` threads each ask for the duplicates at a different threshold (0.80, 0.81,
..., so that no answer comes from the report cache) at the same moment. It prints the
server's RSS before, its peak during the requests (VmHWM) and the difference, the seconds
until all answered, each answer's status, near groups and the photos in them; and the status of one request
at threshold 0.5 (refused: under the floor). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_scale import _normalise, writes_for  # noqa: E402

from searchengine import SearchEngine, Settings  # noqa: E402
from searchengine.catalog.manifest import Manifest  # noqa: E402
from searchengine.store.database import head_revision  # noqa: E402

MODEL, DIM = "offline:minilm-effnet", 384  # the server loads it at start; duplicates never use it


def alike(n: int, seed: int = 3) -> np.ndarray:
    """``n`` unit vectors, each at a cosine in [0.93, 0.98] to one shared direction."""
    rng = np.random.default_rng(seed)
    base = _normalise(rng.standard_normal((1, DIM)).astype(np.float32))
    r = rng.standard_normal((n, DIM)).astype(np.float32)
    r = _normalise(r - (r @ base.T) * base)
    cos = rng.uniform(0.93, 0.98, (n, 1)).astype(np.float32)
    return _normalise(cos * base + np.sqrt(1 - cos**2) * r)


def build(folder: Path, n: int) -> None:
    settings = Settings.from_env(model=MODEL, index_root=folder.parent)
    engine = SearchEngine.open(folder, settings=settings)
    Manifest(model=MODEL, dim=DIM, metric="inner_product", index_type="flat",
             schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
    engine.close()
    engine = SearchEngine.open(folder, settings=settings)
    engine.repo.add_roots(["/synthetic"])
    engine.catalog.store_files(writes_for(0, alike(n)))
    with engine.catalog.write_lock():
        engine.catalog.save(final=True)
    engine.close()


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, timeout: float = 600) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dups-http-"))
    folder = work / "alike"
    t = time.perf_counter()
    build(folder, args.photos)
    print(f"index: {args.photos} alike photos built in {time.perf_counter() - t:.1f} s")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "SEARCHENGINE_INDEX_ROOT": str(work), "SEARCHENGINE_API_TOKEN": ""}
    server = subprocess.Popen([sys.executable, "-m", "searchengine.cli", "serve", "--index", folder.name,
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    result: dict = {"photos": args.photos, "clients": args.clients}
    try:
        deadline = time.time() + 120
        while True:
            try:
                if get(port, "/api/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the server did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.3)
        warm = get(port, "/api/duplicates?threshold=0.99&limit=1")  # routes and the index loaded
        assert warm[0] == 200, warm
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        before_kb = status_kb(server.pid, "VmRSS")
        answers: list[tuple[float, int, int | None, int | None]] = [(0.0, 0, None, None)] * args.clients
        start = threading.Barrier(args.clients)

        def client(i: int) -> None:
            threshold = round(0.80 + 0.01 * i, 2)
            start.wait()
            code, body = get(port, f"/api/duplicates?threshold={threshold}&kind=near&limit=1000")
            report = json.loads(body) if code == 200 else {}
            answers[i] = (threshold, code, report.get("near_total"),
                          sum(len(g["files"]) for g in report.get("near", [])) if report else None)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        seconds = time.perf_counter() - t
        peak_kb = status_kb(server.pid, "VmHWM")
        floor = get(port, "/api/duplicates?threshold=0.5")[0]
        result.update(rss_before_mb=round(before_kb / 1024), peak_rss_mb=round(peak_kb / 1024),
                      peak_above_before_mb=round((peak_kb - before_kb) / 1024), seconds=round(seconds, 1),
                      answers=[{"threshold": a, "status": c, "near_groups": g, "files_in_them": f} for a, c, g, f in answers],
                      threshold_0_5_status=floor)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    for a in result["answers"]:
        print(f"  threshold {a['threshold']:.2f}: {a['status']}, {a['near_groups']} near groups holding "
              f"{a['files_in_them']} photos")
    print(f"{args.clients} concurrent /api/duplicates over {args.photos} alike photos: {result['seconds']} s; "
          f"server RSS {result['rss_before_mb']} MB before, peak {result['peak_rss_mb']} MB "
          f"(+{result['peak_above_before_mb']} MB); threshold 0.5 answered {result['threshold_0_5_status']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
