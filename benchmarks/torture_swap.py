"""Swap races against a real server and real indexing runs (issue 21's targets).

A file in an indexed folder is flipped, from another process and as fast as the OS allows,
between the indexed file itself (its own inode, kept through a hidden hard link: same size,
mtime, device and inode) and a symlink to a file outside the folder, while:

1. ``/api/items/ID/media`` of a note is requested for ``--seconds`` (4 client threads,
   keep-alive) from ``searchengine serve``: counts responses, outside bytes served, 5xx and
   aborted connections;
2. ``/api/items/ID/thumbnail`` of a photo is requested for ``--seconds``, its cached
   thumbnails deleted before every request so that each one is made again from the swapping
   file: counts responses whose picture is not the photo's, and, after the loop, poisoned
   cache entries (the three sizes asked again and compared with the real thumbnail);
3. the folder is indexed ``--index-runs`` times (the note's mtime moved each run so that it
   is hashed and read again): counts runs whose stored text holds the outside file's words.

Prints the figures and the peak memory (VmHWM) of the server and of the indexing process.

    python benchmarks/torture_swap.py                     # 20 s loops, 20 index runs
    python benchmarks/torture_swap.py --seconds 5 --index-runs 5
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(os.environ.get("SEARCHENGINE_SOURCE", Path(__file__).resolve().parents[1]))  # another checkout: a before/after
MODEL = "offline:minilm-effnet"
SECRET = "zanzibar launch codes under the mattress"

SWAP_LOOP = r"""
import os, signal, sys
path, keep, outside = sys.argv[1:4]
folder, name = os.path.split(path)
link, copy = (os.path.join(folder, "." + name + ext) for ext in (".swap-link", ".swap-file"))
flips = 0
def done(*_):
    print(flips, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
print("ready", flush=True)
while True:
    for tmp in (link, copy):
        if os.path.lexists(tmp):
            os.unlink(tmp)
    os.symlink(outside, link)
    os.replace(link, path)
    os.link(keep, copy)
    os.replace(copy, path)
    flips += 1
"""


class Swapper:
    def __init__(self, path: Path, outside: Path):
        self.path, self.outside = path, outside
        self.keep = path.with_name("." + path.name + ".keep")
        if not self.keep.exists():
            os.link(path, self.keep)
        self.flips = 0

    def __enter__(self) -> "Swapper":
        self.proc = subprocess.Popen([sys.executable, "-c", SWAP_LOOP, str(self.path), str(self.keep), str(self.outside)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        self.flips = int(out.strip() or 0)
        if os.path.islink(self.path):
            os.replace(self.keep, self.path)
            os.link(self.path, self.keep)


def picture(seed: int) -> Image.Image:
    rng = np.random.RandomState(seed)
    return Image.fromarray((rng.rand(8, 8, 3) * 255).astype("uint8")).resize((256, 256), Image.NEAREST)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchengine.cli", *args], env=env, capture_output=True, text=True)


def fetch(port: int, url: str) -> tuple[int, bytes]:
    """One request on its own connection (an idle keep-alive one is closed by the server)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return get(conn, url)
    finally:
        conn.close()


def get(conn: http.client.HTTPConnection, url: str) -> tuple[int, bytes]:
    conn.request("GET", url)
    r = conn.getresponse()
    return r.status, r.read()


def hammer(port: int, url: str, seconds: float, check, before=None, threads: int = 4) -> dict:
    """``check(status, body) -> str`` names each response; counts by name, 5xx and aborts."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < end:
            if before:
                before()
            try:
                status, body = get(conn, url)
                name = "5xx" if status >= 500 else check(status, body)
            except (OSError, http.client.HTTPException):
                name = "aborted"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                counts[name] = counts.get(name, 0) + 1
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return counts


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--index-runs", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="torture-swap-"))
    media, outside, indexes = tmp / "media", tmp / "outside", tmp / "indexes"
    media.mkdir()
    outside.mkdir()
    picture(1).save(media / "photo.png")
    (media / "note.md").write_text("a note about gardens and tomatoes\n" * 20)
    picture(99).save(outside / "other.png")
    (outside / "secret.md").write_text(SECRET)
    env = {**os.environ, "SEARCHENGINE_READ_TEXT": "now", "SEARCHENGINE_MODEL": MODEL, "SEARCHENGINE_INDEX_ROOT": str(indexes),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = cli("index", str(media), "--index", "swap", env=env)
    assert done.returncode == 0, done.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "searchengine.cli", "serve", "--index", "swap", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results: dict = {"seconds": args.seconds}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for _ in range(600):
            try:
                if get(conn, "/api/health")[0] == 200:
                    break
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                time.sleep(0.5)
        hits = json.loads(get(conn, "/api/search?q=gardens&k=10&mode=keyword")[1])["hits"]
        note = next(h for h in hits if h["name"] == "note.md")
        photos = json.loads(get(conn, "/api/search?q=photo&k=10&modality=image")[1])["hits"]
        photo = next(h for h in photos if h["name"] == "photo.png")
        note_bytes = (media / "note.md").read_bytes()

        def media_check(status: int, body: bytes) -> str:
            if status != 200:
                return str(status)
            return "ok" if body == note_bytes else ("OUTSIDE" if SECRET.encode() in body else "other-200")

        with Swapper(media / "note.md", outside / "secret.md") as swap:
            counts = hammer(port, note["media_url"], args.seconds, media_check)
        outside_bytes = counts.get("OUTSIDE", 0) * len(SECRET)
        results["media"] = {"responses": counts, "flips": swap.flips, "outside_bytes": outside_bytes}

        status, ref = fetch(port, photo["thumbnail_url"] + "?size=128")
        assert status == 200
        reference = np.asarray(Image.open(io.BytesIO(ref)).convert("RGB"), dtype=np.int16)
        thumbs = indexes / "swap" / "thumbnails"

        def clear() -> None:
            for f in thumbs.glob("*.jpg"):
                try:
                    f.unlink()
                except OSError:
                    pass

        def thumb_check(status: int, body: bytes) -> str:
            if status != 200:
                return str(status)
            got = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.int16)
            return "ok" if got.shape == reference.shape and np.abs(got - reference).mean() <= 8 else "WRONG-PICTURE"

        with Swapper(media / "photo.png", outside / "other.png") as swap:
            counts = hammer(port, photo["thumbnail_url"] + "?size=128", args.seconds, thumb_check, before=clear)
        poisoned = 0
        for size in (128, 256, 512):
            status, body = fetch(port, photo["thumbnail_url"] + f"?size={size}")
            small = picture(1)
            small.thumbnail((size, size))
            want = np.asarray(small.convert("RGB"), dtype=np.int16)
            got = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.int16)
            poisoned += int(status != 200 or got.shape != want.shape or np.abs(got - want).mean() > 12)
        results["thumbnail"] = {"responses": counts, "flips": swap.flips, "poisoned_after": poisoned}
        results["server_peak_rss_mb"] = round(vm_hwm(server.pid) / 1e6)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # indexing: one engine, the note re-read every run while it swaps
    sys.path.insert(0, str(ROOT))
    from searchengine import SearchEngine, Settings

    engine = SearchEngine.open("runs", settings=Settings(index_root=indexes, model=MODEL))
    leaks, t0 = 0, time.perf_counter()
    keep = media / ".note.md.keep"
    with Swapper(media / "note.md", outside / "secret.md") as swap:
        for run in range(args.index_runs):
            st = keep.stat()
            os.utime(keep, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            engine.index([media])
            texts = " ".join(r.text or "" for r in engine.repo.units(list(range(1, 10_000))).values())
            leaks += "zanzibar" in texts
    engine.close()
    results["index"] = {"runs": args.index_runs, "leaks": leaks, "flips": swap.flips,
                        "seconds": round(time.perf_counter() - t0, 1),
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
