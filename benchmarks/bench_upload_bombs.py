"""Peak memory of the real HTTP server under concurrent decompression-bomb uploads.

Starts uvicorn serving ``create_app`` in a subprocess on an index built with the offline
model (the real EfficientNet + MiniLM), sends N concurrent uploads of PNG bombs (a few
hundred kB that decode to 64 megapixels RGBA each, the most an upload may have; plus
bombs whose header alone is refused) to ``POST /api/search/image``, and prints the server's
peak RSS (VmHWM from /proc/PID/status) before and after. The target is < 1.5 GB.

    python benchmarks/bench_upload_bombs.py            # 8 concurrent uploads
    python benchmarks/bench_upload_bombs.py --uploads 16 --rounds 3
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 1.5 * 1024**3

SERVER = r"""
import sys, uvicorn
from pathlib import Path
from searchengine import SearchEngine, Settings
from searchengine.http.app import create_app
settings = Settings(index_root=Path(sys.argv[1]), model="offline:minilm-effnet")
engine = SearchEngine.open("bombs", settings=settings)
engine.encoder  # warm, as `searchengine serve` does
uvicorn.run(create_app(engine), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int, color_type: int = 6) -> bytes:
    """A valid PNG of width x height zero pixels (RGBA by default), compressed to almost
    nothing."""
    channels = {0: 1, 2: 3, 6: 4}[color_type]
    comp = zlib.compressobj(9)
    row = b"\x00" * (width * channels + 1)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bomb.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=8, help="concurrent uploads per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-bombs-"))
    index_root = work / "indexes"
    build = ("import sys; from pathlib import Path; from searchengine import SearchEngine, Settings;"
             "e = SearchEngine.open('bombs', settings=Settings(index_root=Path(sys.argv[1]), model='offline:minilm-effnet'));"
             "e.index([Path(sys.argv[2])]); e.close()")
    subprocess.run([sys.executable, "-c", build, str(index_root), str(ROOT / "samples")], check=True,
                   env=dict(os.environ, HF_HUB_OFFLINE="1"), stderr=subprocess.DEVNULL)

    bombs = {"64 Mpx RGBA (the most allowed)": png_bomb(8000, 8000),
             "64 Mpx grey": png_bomb(8000, 8000, color_type=0),
             "3.6 Gpx header": png_bomb(60000, 60000, color_type=0)[:4096]}
    sizes = {name: len(b) for name, b in bombs.items()}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(index_root), str(port)],
                              env=dict(os.environ, HF_HUB_OFFLINE="1"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(url + "/api/health", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.5)
        urllib.request.urlopen(url + "/api/search?q=warm", timeout=60).read()
        base_rss, base_hwm = vm(server.pid, "VmRSS"), vm(server.pid, "VmHWM")

        def upload(data: bytes) -> tuple[int, float]:
            body, ctype = multipart(data)
            request = urllib.request.Request(url + "/api/search/image", data=body, method="POST",
                                             headers={"Content-Type": ctype})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=600) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            return status, time.perf_counter() - t0

        statuses: dict[int, int] = {}
        t0 = time.perf_counter()
        payloads = list(bombs.values())
        with concurrent.futures.ThreadPoolExecutor(args.uploads) as pool:
            for r in range(args.rounds):
                # mostly the worst allowed bomb; every fourth one of the others
                jobs = [pool.submit(upload, payloads[0] if i % 4 else payloads[1 + (i // 4 + r) % (len(payloads) - 1)])
                        for i in range(args.uploads)]
                for job in jobs:
                    status, _ = job.result()
                    statuses[status] = statuses.get(status, 0) + 1
        elapsed = time.perf_counter() - t0
        peak = vm(server.pid, "VmHWM")
        print(json.dumps({
            "uploads": args.uploads * args.rounds, "concurrent": args.uploads,
            "bomb_sizes_bytes": sizes, "statuses": statuses, "seconds": round(elapsed, 1),
            "server_rss_before_mb": round(base_rss / 2**20), "server_peak_rss_before_mb": round(base_hwm / 2**20),
            "server_peak_rss_mb": round(peak / 2**20), "limit_mb": round(LIMIT_BYTES / 2**20),
            "within_limit": peak < LIMIT_BYTES,
        }, indent=2))
        if peak >= LIMIT_BYTES:
            sys.exit(1)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
