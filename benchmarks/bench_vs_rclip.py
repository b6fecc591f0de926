"""searchengine against rclip, side by side: first index and cold queries, whole processes,
alternated in pairs so that both see the same load.

    .venv/bin/python benchmarks/bench_vs_rclip.py [--photos 200] [--pairs 3] [--query-pairs 7]
        [--configs default,vit-int8] [--ocr on,off] [--cold]

rclip is ../shared/peers/rclip (rclip 4.0.8 on ONNX Runtime, stand-in ViT-B-32-256 weights;
run its setup.sh once). For each pair: rclip indexes the first --photos imagenet-dev photos
into a fresh data dir (its one query included: rclip has no index-only command), then
searchengine indexes the same folder into a fresh index (`searchengine index DIR`), the
order alternating from pair to pair. Wall time of the whole process and its peak resident
memory (the largest of the process tree, from the kernel's rusage) are taken for each.

searchengine's `index` returns when every photo is searchable and leaves the text in photos
to its background reader (`--read-text background`, the CLI's default): the figures say
both when `index` returned and when all text was read (the reader gone, polled from here),
with the peak memory of `index` and of the reader (its VmHWM, read from /proc while it runs)
each against rclip's.

Configurations: ``default`` = `--model auto` (the offline profile offline:e5-effnet where no
open_clip weights are cached), ``vit-int8`` = open_clip ViT-B-32 with random weights (the
default model's compute) at int8; each with the OCR modes of --ocr (``on`` reads text in
images, the default where rapidocr is installed).

Cold queries (--query-pairs pairs, alternated): a text query and an image query in a fresh
process on each side, against a 60-photo index (rclip: `rclip --no-indexing`). The median
of each side is printed with the ratio rclip / searchengine (above 1: searchengine faster).
``--cold``: the cold queries alone (no first index), for ``default`` (`--model auto`: the
offline profile offline:e5-effnet) and ``vit-int8``.

Both sides run from compiled bytecode: rclip's virtualenv holds its ``.pyc`` files, and
searchengine's package is compiled (``compileall``) before anything is timed, so that a
``PYTHONDONTWRITEBYTECODE`` in the environment does not make every searchengine process
compile its own modules again (about 0.15 s of a cold query).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_engine import pick_images, random_vit_b32  # noqa: E402

PEER = ROOT.parent / "shared" / "peers" / "rclip"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "searchengine-peers"
RCLIP = CACHE / "rclip-venv" / "bin" / "rclip"
MODEL = CACHE / "rclip-standin-model"
SE = [sys.executable, "-m", "searchengine.cli"]
MEASURE = ("import re, resource, subprocess, sys, time\n"
           "t0 = time.perf_counter()\n"
           "out = subprocess.run(sys.argv[2:], cwd=sys.argv[1], capture_output=True, text=True)\n"
           "t = time.perf_counter() - t0\n"
           "m = re.search(r'searchable after ([0-9.]+)s', out.stdout)\n"
           "print(out.returncode, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, m.group(1) if m else -1)\n")


def wait_for_reader(index: Path) -> float | None:
    """Until the background text reader of ``index`` is gone; its peak RSS in GB (None:
    none ran, or it was gone before it could be read)."""
    from searchengine.catalog.write_locks import text_reader_pid

    peak = None
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        pid = text_reader_pid(index / "text-reader.pid")
        if pid is None:
            return peak
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak or 0.0, int(line.split()[1]) / 1024**2)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    sys.exit(f"the text reader of {index} ran for an hour")


SEARCHABLE: list[float] = []  # searchengine's own "every file searchable after" figures, in order


def measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB) of ``cmd`` run as a fresh process tree."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(cwd), *cmd], env=env, capture_output=True, text=True)
    try:
        rc, seconds, kb, searchable = out.stdout.split()
    except ValueError:
        sys.exit(f"{' '.join(cmd)}: {out.stderr[-2000:]}")
    if rc != "0":
        sys.exit(f"{' '.join(cmd)} exited {rc}")
    if float(searchable) >= 0:
        SEARCHABLE.append(float(searchable))
    return float(seconds), int(kb) / 1024**2


def rclip_env(datadir: Path) -> dict[str, str]:
    datadir.mkdir(parents=True, exist_ok=True)
    for item in MODEL.iterdir():
        if not (datadir / item.name).exists():
            (datadir / item.name).symlink_to(item)
    return {**os.environ, "RCLIP_DATADIR": str(datadir), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}


def ratio_line(label: str, se: list[float], rc: list[float], se_mem: list[float], rc_mem: list[float]) -> None:
    s, r = statistics.median(se), statistics.median(rc)
    pairs = " ".join(f"{b / a:.2f}" for a, b in zip(se, rc))
    print(f"{label:<34} searchengine {s:6.2f} s {max(se_mem):5.2f} GB | rclip {r:6.2f} s {max(rc_mem):5.2f} GB"
          f" | speed {r / s:.2f}x (pairs: {pairs}), memory {max(se_mem) / max(rc_mem):.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--query-pairs", type=int, default=7)
    ap.add_argument("--query-photos", type=int, default=60)
    ap.add_argument("--configs", default="default,vit-int8")
    ap.add_argument("--ocr", default="on")
    ap.add_argument("--queries", default="offline:e5-effnet,vit-int8",
                    help="models for the cold query figures (empty: none)")
    ap.add_argument("--cold", action="store_true",
                    help="cold queries only (--configs ''), for default (auto) and vit-int8")
    args = ap.parse_args()
    if args.cold:
        args.configs, args.queries = "", "default,vit-int8"
    if not RCLIP.exists():
        sys.exit(f"rclip is not set up: bash {PEER / 'setup.sh'}")

    work = Path(tempfile.mkdtemp(prefix="se-vs-rclip-"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "searchengine")], check=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("SEARCHENGINE_READ_TEXT", None)  # the CLI's default: read in the background
    qenv = {**env, "SEARCHENGINE_READ_TEXT": "now"}  # query figures: on a finished index
    vit = random_vit_b32(ROOT / ".cache" / "vit-b-32-random")
    models = {"default": ["--model", "auto"], "vit-int8": ["--model", vit, "--precision", "int8"],
              "offline:e5-effnet": ["--model", "offline:e5-effnet"]}
    load = os.getloadavg()
    print(f"{args.photos} imagenet-dev photos; {os.cpu_count()} cores; load average at start "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    try:
        photos = work / "photos"
        photos.mkdir()
        for i, src in enumerate(pick_images(None, args.photos)):
            shutil.copy(src, photos / f"{i:05d}{src.suffix.lower()}")
        n = 0
        for config in [c for c in args.configs.split(",") if c]:
            for ocr in [o for o in args.ocr.split(",") if o]:
                # the one-time export of the model's graphs happens outside the timing
                subprocess.run(SE + ["index", str(photos), "--index-root", str(work / "warm"), "--index", config,
                                     *models[config], "--ocr", ocr], env=env, capture_output=True, check=True)
                wait_for_reader(work / "warm" / config)
                se, rc, se_mem, rc_mem = [], [], [], []
                se_all, reader_mem = [], []
                for pair in range(args.pairs):
                    n += 1
                    sides = ["rclip", "se"] if pair % 2 == 0 else ["se", "rclip"]
                    for side in sides:
                        if side == "rclip":
                            t, m = measured([str(RCLIP), "--indexing-batch-size", "8", "--top", "1", "a photo of a dog"],
                                            photos, rclip_env(work / f"rclip-{n}"))
                            rc.append(t), rc_mem.append(m)
                        else:
                            t0 = time.perf_counter()
                            t, m = measured(SE + ["index", str(photos), "--index-root", str(work / f"se-{n}"),
                                                  "--index", "bench", *models[config], "--ocr", ocr], ROOT, env)
                            reader = wait_for_reader(work / f"se-{n}" / "bench")
                            se.append(t), se_mem.append(m)
                            se_all.append(max(t, time.perf_counter() - t0))
                            if reader is not None:
                                reader_mem.append(reader)
                ratio_line(f"first index, {config}, --ocr {ocr}", se, rc, se_mem, rc_mem)
                if reader_mem or max(se_all) > max(se) + 0.5:
                    ratio_line(f"  ... all text read, {config}", se_all, rc, reader_mem or se_mem, rc_mem)
                    print(f"{'':<34} (memory above: the background text reader's peak)", flush=True)
                if SEARCHABLE:  # the same runs: when every photo was searchable (before the text phase)
                    seen = SEARCHABLE[-len(se):]
                    print(f"{'':<34} every photo searchable after {statistics.median(seen):.2f} s"
                          f" -> {statistics.median(rc) / statistics.median(seen):.2f}x rclip's whole index", flush=True)
                SEARCHABLE.clear()

        queries = [q for q in args.queries.split(",") if q]
        if queries:
            small = work / "qphotos"
            small.mkdir()
            for p in sorted(photos.iterdir())[: args.query_photos]:
                shutil.copy(p, small / p.name)
            image = str(sorted(small.iterdir())[0])
            renv = rclip_env(work / "rclip-q")
            measured([str(RCLIP), "--top", "1", "warm up"], small, renv)  # rclip's index of the folder
            for config in queries:
                se_args = ["--index-root", str(work / "q"), "--index", config.replace(":", "-")]
                subprocess.run(SE + ["index", str(small), *se_args, *models[config]], env=qenv,
                               capture_output=True, check=True)
                for kind, se_q, rc_q in (("text", ["a photo of a dog"], ["a photo of a dog"]),
                                         ("image", ["--image", image], [image])):
                    se, rc, se_mem, rc_mem = [], [], [], []
                    for pair in range(args.query_pairs + 1):  # the first pair warms the page cache
                        for side in (["rclip", "se"] if pair % 2 == 0 else ["se", "rclip"]):
                            if side == "rclip":
                                t, m = measured([str(RCLIP), "--no-indexing", "--top", "5", *rc_q], small, renv)
                                if pair:
                                    rc.append(t), rc_mem.append(m)
                            else:
                                t, m = measured(SE + ["search", *se_q, *se_args], ROOT, env)
                                if pair:
                                    se.append(t), se_mem.append(m)
                    ratio_line(f"cold {kind} query, {config}", se, rc, se_mem, rc_mem)
        load = os.getloadavg()
        print(f"load average at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
