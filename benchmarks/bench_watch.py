"""How soon a watched folder's changes are searchable (searchengine.pipeline.watch).

    python benchmarks/bench_watch.py [--sizes 1,100,10000] [--model SPEC] [--repeat 3]

For each size N: a folder of N notes is indexed, a FolderWatcher starts (catch-up), then
  - one note is added, and the time until a keyword search finds it is measured (and one
    deleted, until it is gone), ``--repeat`` times: the latency in a folder of N files;
  - a burst of N new notes is written at once (one sub-folder), and the time until all are
    indexed is measured, with the number of batches it took; then the sub-folder is deleted
    and the time until all are gone is measured;
  - the watcher's CPU time over 3 idle seconds.
The model defaults to a tiny random open_clip (tests/tiny_clip.py), so that the figures are
the watcher's and the plan's, not the model's (``--model offline:minilm-effnet`` for real
weights). Target: added and deleted files searchable / gone within 5 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from searchengine import SearchEngine, Settings  # noqa: E402
from searchengine.pipeline.watch import FolderWatcher, WatchBatch  # noqa: E402


def wait_for(condition, limit: float = 600.0, step: float = 0.02) -> float:
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > limit:
            raise TimeoutError(f"not within {limit}s")
        time.sleep(step)
    return time.monotonic() - t0


def write_notes(folder: Path, n: int, tag: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{tag}{i:05d}.txt").write_text(f"note {i} of {tag}: word{tag}{i} and some more text")


def files_indexed(engine: SearchEngine) -> int:
    return sum(c["files"] for c in engine.repo.stats().values())


def found(engine: SearchEngine, word: str) -> bool:
    return any(word in (h.text or "") for h in engine.search(word, mode="keyword", k=1))


def run_size(n: int, settings: Settings, work: Path, repeat: int) -> dict:
    folder = work / f"n{n}" / "notes"
    write_notes(folder, n, "base")
    engine = SearchEngine.open(f"watch{n}", settings=settings)
    t0 = time.perf_counter()
    engine.index([folder])
    index_s = time.perf_counter() - t0
    batches: list[WatchBatch] = []
    watcher = FolderWatcher(engine, on_batch=batches.append)
    watcher.start()
    watcher.caught_up.wait()
    time.sleep(0.5)
    added, deleted = [], []
    for r in range(repeat):
        word = f"solo{n}x{r}q"
        note = folder / f"{word}.txt"
        note.write_text(f"a single added note {word}")
        added.append(wait_for(lambda: found(engine, word)))
        note.unlink()
        deleted.append(wait_for(lambda: not found(engine, word)))
    before_batches = len(batches)
    before = files_indexed(engine)
    t0 = time.monotonic()
    write_notes(folder / "burst", n, "burst")
    written = time.monotonic() - t0
    burst_in = wait_for(lambda: files_indexed(engine) == before + n, limit=3600) + written
    burst_batches = len(batches) - before_batches
    t0 = time.monotonic()
    shutil.rmtree(folder / "burst")
    burst_out = wait_for(lambda: files_indexed(engine) == before, limit=3600)
    time.sleep(0.5)
    c0, w0 = time.process_time(), time.monotonic()
    time.sleep(3)
    idle_cpu = (time.process_time() - c0) / (time.monotonic() - w0)
    watcher.stop()
    engine.close()
    return {"files": n, "index_s": index_s, "added_s": statistics.median(added), "added_max_s": max(added),
            "deleted_s": statistics.median(deleted), "deleted_max_s": max(deleted),
            "burst_write_s": written, "burst_searchable_s": burst_in, "burst_batches": burst_batches,
            "burst_deleted_s": burst_out, "idle_cpu_share": idle_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,10000")
    parser.add_argument("--model", default=None, help="model spec (default: a tiny random open_clip)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            from tiny_clip import write_tiny_clip

            model = write_tiny_clip(work / "tiny_clip")
        settings = Settings(index_root=work / "indexes", model=model, cache_dir=work / "cache")
        rows = []
        for n in args.sizes.split(","):
            rows.append(run_size(int(n), settings, work, args.repeat))
            print(json.dumps(rows[-1]), flush=True)  # each size as it is measured
    print(f"model: {args.model or 'tiny random open_clip'}; added/deleted: median (max) of {args.repeat}")
    print(f"{'files':>7} {'added s':>12} {'deleted s':>12} {'burst in s':>11} {'batches':>8} "
          f"{'burst out s':>12} {'idle CPU':>9}")
    for r in rows:
        print(f"{r['files']:>7} {r['added_s']:>6.2f} ({r['added_max_s']:.2f}) {r['deleted_s']:>6.2f} "
              f"({r['deleted_max_s']:.2f}) {r['burst_searchable_s']:>11.2f} {r['burst_batches']:>8} "
              f"{r['burst_deleted_s']:>12.2f} {100 * r['idle_cpu_share']:>8.2f}%")
    worst = max(max(r["added_max_s"], r["deleted_max_s"]) for r in rows)
    print(f"worst single-file latency {worst:.2f}s (target 5 s: {'met' if worst <= 5 else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
