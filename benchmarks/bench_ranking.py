"""Ranking across kinds, on the path users run: text→photo with text in images read and with
unrelated notes, recordings and sign photos in the library, against vector search with
``--ocr off``. Prints figures and writes them as JSON; asserts nothing. Runs against whatever
ranking the checkout has (through ``searchengine eval`` and the public SearchEngine API), so
it can be run before and after a change.

    .venv/bin/python benchmarks/bench_ranking.py --work DIR [--imagenet 100] [--model auto]
                                                 [--only imagenet,coco] [--asr-model base] [--fresh]

Sets: imagenet-dev (every 5th photo, ``--imagenet`` of them, copied under neutral names: the
originals' names hold the label, which the keyword side would match), with English prompts
("a photo of a goldfish") and Chinese ones ("一张金鱼的照片", benchmarks/data/imagenet-dev-zh.jsonl);
coco-dev (all photos, 5 human captions each). For each set, three runs of
``searchengine eval``:

1. ``--ocr off``, vector search narrowed to photos (the model alone);
2. the default path: hybrid, ``--ocr`` as configured (auto), every kind competing;
3. the default path in a mixed library: the set plus ``--distractors`` (benchmarks/
   make_mixed_library.py: 8 notes, 32 recordings, 20 photos with signs).

Figures: text→photo R@1 / R@5 for 1, 2, 3; photo→text R@1; files shown twice in a default
top 10 (summed over the queries); and, in each mixed library, R@1 of the sign phrases,
the recordings' transcripts and the notes' queries (the default search; a hit when the first
file is the right one).

Every index is kept under ``--work`` (``idx/<set>-<run>``; the English and Chinese prompts
share one, as they share the photos), with the mixed library (``mixed/``), the manifests and
each eval's JSON report: a rerun reuses every unchanged file and costs the queries alone.
``--fresh`` removes the indexes first (after a change to what indexing stores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from make_mixed_library import default_data, make  # noqa: E402

RUNS = ("off", "default", "mixed")
RUN_TITLES = {"off": "(1) --ocr off, vector", "default": "(2) default path", "mixed": "(3) default, mixed library"}


def manifests(work: Path, data: Path, imagenet: int, only: set[str]) -> dict[str, tuple[Path, str]]:
    """``set name -> (manifest, index group)``, written under ``work/manifests`` with
    absolute paths."""
    folder = work / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}
    if "imagenet" in only:
        en = _lines(data / "imagenet-dev" / "manifest.jsonl")
        zh = _lines(ROOT / "benchmarks" / "data" / "imagenet-dev-zh.jsonl")
        chosen = [i for i in range(len(en)) if i % 5 == 0][:imagenet]
        # neutral names: imagenet-dev's hold the label (n01443537_goldfish.JPEG), which the
        # keyword side of the default search would match
        photos = work / "photos" / "imagenet"
        photos.mkdir(parents=True, exist_ok=True)
        for name, rows in (("imagenet-en", en), ("imagenet-zh", zh)):
            picked = []
            for i in chosen:
                row = dict(rows[i])
                neutral = photos / f"photo-{i:04d}.jpg"
                if not neutral.is_file():
                    shutil.copy2(data / "imagenet-dev" / "images" / Path(row["path"]).name, neutral)
                row["path"] = str(neutral)
                picked.append(row)
            out[name] = (_write(folder / f"{name}.jsonl", picked), "imagenet")
    if "coco" in only:
        rows = _lines(data / "coco-dev" / "manifest.jsonl")
        for row in rows:
            row["path"] = str(data / "coco-dev" / row["path"])
        out["coco"] = (_write(folder / "coco.jsonl", rows), "coco")
    return out


def run_eval(manifest: Path, report: Path, keep: Path, run: str, mixed: Path, model: str | None,
             asr_model: str | None) -> dict:
    cmd = [sys.executable, "-m", "searchengine.cli", "eval", str(manifest), "--k", "1,5,10",
           "--json", str(report), "--keep-index", str(keep)]
    if run == "off":
        cmd += ["--ocr", "off"]
    if run == "mixed":
        cmd += ["--distractors", str(mixed)]
    if model:
        cmd += ["--model", model]
    if asr_model:
        cmd += ["--asr-model", asr_model]
    env = dict(os.environ, SEARCHENGINE_READ_TEXT="now", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    print(f"  {manifest.stem} {run}: {time.perf_counter() - t0:.0f}s", flush=True)
    return json.loads(report.read_text())


def mixed_queries(index: Path, mixed: Path) -> dict:
    """The mixed library's own queries on the kept index: R@1 per kind, files twice in a top 10."""
    from searchengine import SearchEngine

    queries = _lines(mixed / "queries.jsonl")
    hits_at_1: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    twice = 0
    misses = []
    with SearchEngine.open(index, create=False) as engine:
        for q in queries:
            hits = engine.search(q["query"], k=10)
            want = str(mixed / q["path"])
            counts[q["kind"]] += 1
            if hits and hits[0].path == want:
                hits_at_1[q["kind"]] += 1
            else:
                misses.append(f"{q['kind']} {q['query'][:40]!r} -> {Path(hits[0].path).name if hits else None} "
                              f"({hits[0].kind if hits else ''})")
            twice += sum(1 for n in Counter(h.path for h in hits[:10]).values() if n > 1)
    out = {kind: {"queries": counts[kind], "R@1": round(hits_at_1[kind] / counts[kind], 4)} for kind in counts}
    out["files_twice_in_top10"] = twice
    out["misses"] = misses
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for the kept indexes, manifests and reports")
    ap.add_argument("--data", type=Path, default=default_data(), help="folder holding coco-dev, imagenet-dev, ljspeech-dev")
    ap.add_argument("--imagenet", type=int, default=100, help="imagenet-dev photos (every 5th, at most 100)")
    ap.add_argument("--model", default=None, help="model spec (default: auto)")
    ap.add_argument("--asr-model", default=None, help="speech recognition for the recordings (default: base)")
    ap.add_argument("--only", default="imagenet,coco", help="sets to run: imagenet, coco")
    ap.add_argument("--fresh", action="store_true", help="rebuild every index")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here [WORK/bench_ranking.json]")
    args = ap.parse_args()
    work = args.work.expanduser().absolute()
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    if args.fresh:
        shutil.rmtree(work / "idx", ignore_errors=True)
    mixed = work / "mixed"
    if not (mixed / "queries.jsonl").is_file():
        make(mixed, args.data)
    reports_dir = work / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    figures: dict = {"sets": {}, "mixed_queries": {}}
    for name, (manifest, group) in manifests(work, args.data, args.imagenet, only).items():
        figures["sets"][name] = {}
        for run in RUNS:
            report = run_eval(manifest, reports_dir / f"{name}-{run}.json", work / "idx" / f"{group}-{run}",
                              run, mixed, args.model, args.asr_model)
            paths = report["paths"]
            path = "vector" if run == "off" else "default"
            t2i = paths[path]["text_to_image"]
            figures["sets"][name][run] = {
                "model": report["model"],
                "text_to_photo": {"queries": t2i["queries"], "R@1": t2i["R@1"], "R@5": t2i["R@5"]},
                "photo_to_text_R@1": paths[path]["image_to_text"]["R@1"],
                "files_twice_in_top10": paths["default"]["text_to_image"].get("files_twice_in_top10"),
                "vector_text_to_photo_R@1": paths["vector"]["text_to_image"]["R@1"],
            }
        if group not in figures["mixed_queries"]:
            figures["mixed_queries"][group] = mixed_queries(work / "idx" / f"{group}-mixed" / "index", mixed)
    show(figures)
    out = args.json or work / "bench_ranking.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"\nfigures: {out}")


def show(f: dict) -> None:
    print(f"\ntext→photo R@1 / R@5 (photo→text R@1; files twice in a default top 10, all queries)")
    print(f"{'set':<13}{'queries':>8}" + "".join(f"{RUN_TITLES[r]:>34}" for r in RUNS))
    for name, runs in f["sets"].items():
        first = next(iter(runs.values()))
        cells = []
        for r in RUNS:
            x = runs[r]
            twice = "" if r == "off" else f"; {x['files_twice_in_top10']}x2"
            cells.append(f"{x['text_to_photo']['R@1']:.3f} / {x['text_to_photo']['R@5']:.3f} "
                         f"({x['photo_to_text_R@1']:.3f}{twice})")
        print(f"{name:<13}{first['text_to_photo']['queries']:>8}" + "".join(f"{c:>34}" for c in cells))
    for name, runs in f["sets"].items():
        off, default, mixed = (runs[r]["text_to_photo"]["R@1"] for r in RUNS)
        print(f"  {name}: default - off {default - off:+.3f}, mixed - off {mixed - off:+.3f}, "
              f"mixed - default {mixed - default:+.3f}")
    print("\nthe mixed library's own queries (default search, R@1 = first file right)")
    for group, q in f["mixed_queries"].items():
        kinds = ", ".join(f"{k} {v['R@1']:.3f} ({v['queries']})" for k, v in q.items() if isinstance(v, dict))
        print(f"  with {group}: {kinds}; files twice in a top 10: {q['files_twice_in_top10']}")
        for miss in q["misses"][:12]:
            print(f"    miss: {miss}")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
