"""Where a first index's time goes: one in-process indexing run into a fresh index, with the
process CPU time (all threads) at each stage's start, the run's own stage times, and the
wall and calling-thread CPU time of the main components (ONNX Runtime's second intra-op
thread is not in a component's CPU figure: compare components by wall time, and the whole
run by its process CPU).

    .venv/bin/python benchmarks/profile_first_index.py PHOTOS [--model SPEC] [--precision int8] [--ocr on]

For the ViT-B-32 int8 configuration of bench_vs_rclip: ``--model vit-int8`` (random weights,
made once under .cache/ as bench_engine does).
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TOTALS: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])  # calls, wall, thread CPU


def timed(owner: Any, name: str, label: str) -> None:
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            row = TOTALS[label]
            row[0] += 1
            row[1] += time.perf_counter() - t0
            row[2] += time.thread_time() - c0

    setattr(owner, name, wrapper)


def process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("photos", type=Path)
    ap.add_argument("--model", default="vit-int8")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--ocr", default="on")
    args = ap.parse_args()
    if args.model == "vit-int8":
        from bench_engine import random_vit_b32

        args.model = random_vit_b32(ROOT / ".cache" / "vit-b-32-random")

    import searchengine.ocr.reader as reader_module
    import searchengine.pipeline.decode as decode_module
    import searchengine.pipeline.read_text as phase_module
    import searchengine.pipeline.runner as runner_module
    from searchengine import SearchEngine, Settings
    from searchengine.ocr.stage import ImageTexts, shared_reader

    timed(decode_module, "load_image", "stream: decode a photo (model size)")
    timed(runner_module, "encode_batch", "stream: encode a batch (image model)")
    timed(phase_module, "load_image", "text phase: decode a photo (own size)")
    timed(reader_module.TextReader, "_load", "text phase: load the OCR models")
    timed(reader_module.TextReader, "read_timed", "text phase: read a photo (all OCR models)")
    timed(reader_module, "_text_pixels", "text phase: small first detector pass")
    timed(phase_module.TextPhase, "_store", "text phase: encode + write its blocks")
    timed(ImageTexts, "save", "text phase: cache the reading")
    if reader_module.available():
        from rapidocr_onnxruntime.ch_ppocr_cls import TextClassifier
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

        timed(TextDetector, "__call__", "  detector at the photo's size")
        timed(TextClassifier, "__call__", "  angle classifier")
        timed(TextRecognizer, "__call__", "  recogniser")

    work = Path(tempfile.mkdtemp(prefix="profile-index-"))
    starts: list[tuple[str, float, float]] = []
    t0, c0 = time.perf_counter(), process_cpu()

    def on_progress(stage: str, done: int, total: int) -> None:
        if not starts or starts[-1][0] != stage:
            starts.append((stage, time.perf_counter() - t0, process_cpu() - c0))

    try:
        settings = Settings(index_root=work, model=args.model, precision=args.precision, ocr=args.ocr)
        with SearchEngine.open("profile", settings=settings) as engine:
            report = engine.index([args.photos], on_progress=on_progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall, cpu = time.perf_counter() - t0, process_cpu() - c0
    print(f"{report.added} photos: wall {wall:.1f} s, process CPU {cpu:.1f} s, every photo searchable after "
          f"{report.searchable_seconds:.1f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for stage, w, c in starts:
        print(f"  {stage:<14} from wall {w:7.1f} s, process CPU {c:7.1f} s")
    print(f"  end            at   wall {wall:7.1f} s, process CPU {cpu:7.1f} s")
    s = report.stages
    print(f"  stage times: plan {s.plan:.1f}, decode {s.decode:.1f} + preprocess {s.preprocess:.1f} (summed over "
          f"workers), encode {s.encode:.1f}, write {s.write:.1f}, encoder waiting {s.waiting:.1f}, text phase "
          f"{s.read_text:.1f}; OCR models {report.ocr_seconds:.1f} s on {report.ocr_images} photos")
    if reader_module.available():
        reader = shared_reader()
        print(f"  small first pass turned away {reader.gated}; full reads {reader.full_reads}")
    print(f"  {'component':<44} {'calls':>5} {'wall s':>8} {'thread CPU s':>13}")
    for label, (calls, w, c) in sorted(TOTALS.items(), key=lambda kv: -kv[1][1]):
        print(f"  {label:<44} {int(calls):5d} {w:8.2f} {c:13.2f}")


if __name__ == "__main__":
    main()
