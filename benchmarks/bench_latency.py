"""Where people wait: cold CLI queries, start-up, and re-indexing with nothing to do.

    python benchmarks/bench_latency.py [--runs 5] [--photos 60] [--files 100000] [--skip-vit]

Every figure is the wall time of a fresh `searchengine` process (median of --runs), so it
includes interpreter start-up, imports, opening the index and loading what the query needs:
- cold text query and cold image query on a --photos index of imagenet-dev photos, for the
  offline profile and for open_clip ViT-B-32 (random weights in local-dir layout: the same
  compute as the default model; --skip-vit leaves it out);
- `searchengine --help` and `searchengine status`;
- `searchengine index` with nothing changed on samples/ and on a synthetic tree of --files
  files (their rows are written through the project's own store, so no model runs).
The first index of each model (and its one-time ONNX export) happens before any timing.
Absolute times move from machine to machine; compare figures taken in one run.
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

from bench_engine import pick_images, random_vit_b32  # noqa: E402

SE = [sys.executable, "-m", "searchengine.cli"]


def timed(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """(median, min, max) wall seconds of ``runs`` fresh processes, after one warm-up."""
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        out = subprocess.run(SE + args, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if out.returncode != 0:
            sys.exit(f"{' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")
        if i:
            times.append(elapsed)
    return statistics.median(times), min(times), max(times)


def row(name: str, figures: tuple[float, float, float]) -> None:
    med, lo, hi = figures
    print(f"{name:<48} {med:6.2f} s   (min {lo:.2f}, max {hi:.2f})", flush=True)


def synthetic_tree(folder: Path, n: int, index_dir: Path, env: dict[str, str]) -> None:
    """``n`` small text files, and their rows in the index as if they had been indexed (one
    vector each), written in bulk through the project's store."""
    import numpy as np

    for i in range(n):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note{i:06d}.txt").write_text(f"note {i}\n")
    os.environ.update(env)
    from searchengine import SearchEngine, Settings
    from searchengine.catalog.manifest import Manifest
    from searchengine.media.discover import walk_media
    from searchengine.store.database import head_revision
    from searchengine.store.repository import FileWrite, NewUnit

    settings = Settings.from_env(model="offline:minilm-effnet")
    engine = SearchEngine.open(index_dir, settings=settings)
    Manifest(model=engine.model, dim=384, metric="inner_product", index_type="IDMap2,Flat",
             schema_revision=head_revision(), precision="fp32").save(engine.layout.manifest)
    engine.close()
    engine = SearchEngine.open(index_dir, settings=settings)  # now with its manifest
    engine.repo.add_roots([str(folder)])
    rng = np.random.default_rng(0)
    batch: list[FileWrite] = []
    for f in walk_media([folder]):
        vec = rng.standard_normal(384).astype(np.float32)
        batch.append(FileWrite(path=str(f.path), modality="text", content_hash=f"{f.size}-{f.mtime_ns}",
                               size=f.size, mtime_ns=f.mtime_ns, units=[NewUnit(0.0, 1.0, "note", vec / np.linalg.norm(vec))],
                               device=f.device, inode=f.inode))
        if len(batch) == 5000:
            engine.catalog.store_files(batch)
            batch = []
    if batch:
        engine.catalog.store_files(batch)
    engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--skip-vit", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="se-latency-"))
    env = {**os.environ, "SEARCHENGINE_INDEX_ROOT": str(work / "indexes"), "HF_HUB_OFFLINE": "1",
           "SEARCHENGINE_READ_TEXT": "now"}  # queries time a finished index, no reader running
    try:
        photos = work / "photos"
        photos.mkdir()
        for i, src in enumerate(pick_images(None, args.photos)):
            shutil.copy(src, photos / f"{i:04d}{src.suffix.lower()}")
        query_image = str(next(iter(sorted(photos.iterdir()))))
        models = [("offline profile", "offline:minilm-effnet")]
        if not args.skip_vit:
            models.append(("open_clip ViT-B-32", random_vit_b32(ROOT / ".cache" / "vit-b-32-random")))
        print(f"{args.photos} photos, median of {args.runs} fresh processes each", flush=True)
        for label, spec in models:
            name = "lat-" + spec.split(":")[0]
            out = subprocess.run(SE + ["index", str(photos), "--index", name, "--model", spec], env=env,
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"indexing with {spec} failed: {out.stderr[-2000:]}")
            row(f"cold text query, {label}", timed(["search", "a photo of a dog", "--index", name], env, args.runs))
            row(f"cold image query, {label}", timed(["search", "--image", query_image, "--index", name], env, args.runs))
            row(f"status, {label}", timed(["status", "--index", name], env, args.runs))
        row("--help", timed(["--help"], env, args.runs))

        samples = ["index", str(ROOT / "samples"), "--index", "lat-samples", "--model", "offline:minilm-effnet"]
        subprocess.run(SE + samples, env={**env, "SEARCHENGINE_ASR_MODEL": "tiny.en"}, capture_output=True, check=True)
        row("unchanged re-index, samples/ (16 files)", timed(samples[:4], env, args.runs))

        if args.files:
            t0 = time.perf_counter()
            tree = work / "tree"
            synthetic_tree(tree, args.files, work / "indexes" / "lat-tree", env)
            print(f"(synthetic tree of {args.files} files written in {time.perf_counter() - t0:.0f} s)", flush=True)
            row(f"unchanged re-index, {args.files} files", timed(["index", str(tree), "--index", "lat-tree"], env, max(1, args.runs // 2)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
