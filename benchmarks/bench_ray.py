"""Indexing on Ray against in-process indexing: the overhead of ``--ray local``.

    python benchmarks/bench_ray.py [--images 200] [--model auto] [--repeat 3] [--cpus N] [--source DIR]

Copies N photos (imagenet-dev, then coco-dev from ../shared/data, or --source) to a
scratch folder, warms the model's export cache and the page cache with a throw-away run,
then indexes them into new indexes with the same encoder, alternately in-process and with
``ray="local"`` on a local Ray cluster started beforehand (its start-up is printed apart:
a cluster outlives one run), ``--repeat`` times each. Every run loads the model itself (the
in-process one in this process, the Ray one in its actors, new worker processes). Prints
the median files/s of each, the ratio (target >= 0.8) and whether every unit's vector is
the same (np.allclose).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_engine import pick_images  # noqa: E402


def vectors_by_unit(engine) -> dict[tuple, np.ndarray]:
    out = {}
    for ids, vecs in engine.repo.iter_vectors(engine.vectors.dim):
        rows = engine.repo.units([int(i) for i in ids])
        for i, v in zip(ids, vecs):
            r = rows[int(i)]
            out[(Path(r.path).name, r.start, r.end, r.kind)] = v
    return out


def stamp(marks: list[tuple[float, int]]):
    """An ``on_progress`` that notes when each written batch of files was done."""
    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "indexing":
            marks.append((time.perf_counter(), done))
    return on_progress


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--model", default="auto", help="model spec (default: what `auto` picks here)")
    ap.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray cluster (default: all usable)")
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternated; medians are reported")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()

    from searchengine import SearchEngine, Settings
    from searchengine.encoders import registry
    from searchengine.encoders.registry import resolve_auto
    from searchengine.pipeline.ray_cluster import connected

    spec, why = resolve_auto(args.model)
    print(f"model: {spec}" + (f" ({why})" if why else ""))
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        media = work / "photos"
        media.mkdir()
        for p in pick_images(args.source, args.images):
            shutil.copy2(p, media / p.name)
        n = len(list(media.iterdir()))
        warm = work / "warm"
        warm.mkdir()
        for p in sorted(media.iterdir())[:8]:
            shutil.copy2(p, warm / p.name)
        base = Settings.from_env(index_root=work / "indexes", model=spec)
        with SearchEngine.open("warm-up", settings=base) as engine:  # export cache, page cache
            engine.index([warm])
        for p in media.iterdir():
            p.read_bytes()

        t0 = time.perf_counter()
        with connected("local", num_cpus=args.cpus) as cluster:
            start = time.perf_counter() - t0
            runs: dict[str, list] = {"in-process": [], "ray": []}
            vectors: dict[str, dict] = {}
            for r in range(args.repeat):  # alternated, so that a busy moment hits both alike
                for how in ("in-process", "ray"):
                    registry._CACHE.clear()  # each run loads its model (the Ray one in its actors)
                    marks: list[tuple[float, int]] = []
                    with SearchEngine.open(f"{how}-{r}", settings=base) as engine:
                        t = time.perf_counter()
                        report = engine.index([media], ray="local" if how == "ray" else None,
                                              on_progress=stamp(marks))
                        runs[how].append((report, marks[0][0] - t))
                        vectors.setdefault(how, vectors_by_unit(engine))
                    print(f"  run {r + 1} {how:<10}: {n / report.seconds:6.1f} files/s ({report.seconds:.1f}s, "
                          f"first batch after {marks[0][0] - t:.1f}s)", flush=True)

        vec_local, vec_ray = vectors["in-process"], vectors["ray"]
        same = sorted(vec_local) == sorted(vec_ray) and all(
            np.allclose(vec_local[k], vec_ray[k], atol=1e-5) for k in vec_local)
        max_diff = max((float(np.abs(vec_local[k] - vec_ray[k]).max()) for k in vec_local if k in vec_ray), default=0.0)
        sec_local = statistics.median(rep.seconds for rep, _ in runs["in-process"])
        sec_ray = statistics.median(rep.seconds for rep, _ in runs["ray"])
        fps_local, fps_ray = n / sec_local, n / sec_ray
        r_local, r_ray = runs["in-process"][0][0], runs["ray"][0][0]
        figures = {
            "model": spec, "files": n, "cpus": cluster.cpus, "gpus": cluster.gpus, "repeats": args.repeat,
            "in_process_s": [round(rep.seconds, 2) for rep, _ in runs["in-process"]],
            "ray_s": [round(rep.seconds, 2) for rep, _ in runs["ray"]],
            "in_process_files_per_s": round(fps_local, 2), "ray_files_per_s": round(fps_ray, 2),
            "ratio": round(fps_ray / fps_local, 3),
            "in_process_first_batch_s": [round(f, 2) for _, f in runs["in-process"]],
            "ray_first_batch_s": [round(f, 2) for _, f in runs["ray"]],
            "ray_cluster_start_s": round(start, 2),
            "vectors_equal": same, "max_abs_diff": max_diff,
            "failed": [r_local.failed, r_ray.failed],
            "stages_in_process": {k: round(v, 2) for k, v in vars(r_local.stages).items()},
            "stages_ray": {k: round(v, 2) for k, v in vars(r_ray.stages).items()},
        }
        print(f"in-process: {n} files, median {sec_local:.1f}s = {fps_local:.1f} files/s")
        print(f"ray local : {n} files, median {sec_ray:.1f}s = {fps_ray:.1f} files/s "
              f"({cluster.cpus:.0f} CPUs, {cluster.gpus:.0f} GPUs; cluster start {start:.1f}s, apart)")
        print(f"ratio ray / in-process: {figures['ratio']:.2f} (target >= 0.80)")
        print(f"vectors equal: {same} (max |diff| {max_diff:.2e})")
        print("stages in-process (run 1):", figures["stages_in_process"])
        print("stages ray (run 1)       :", figures["stages_ray"])
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        if not same:
            sys.exit("the Ray run's vectors differ from the in-process run's")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
