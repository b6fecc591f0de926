"""Deciding cheaply which photos hold text: the options measured side by side.

    .venv/bin/python benchmarks/bench_ocr_gate.py [--photos 200] [--per-language 40] [--json out.json]

Two sets: photos with text (bench_ocr's rendered set: Chinese and English phrases drawn over
coco-dev / imagenet-dev photos, 14-52 px, plates and bare text) and the first ``--photos``
imagenet-dev photos (what bench_engine and the rclip comparison index). For each option it
prints its cost per photo (median ms of wall time, models loaded before timing) and its
decision: the share of rendered photos it passes on to the full read (must be 1.0: a photo
it turns away is never read) and the share of imagenet-dev photos it passes on (the lower,
the cheaper the run).

Options:
- ``full``: the full read (detector at the photo's size, then angle classifier and
  recogniser on what it found) on every photo;
- ``det@S``: the detector alone on the photo shrunk to S px a side, one photo a call; a
  photo passes when any pixel's text probability is over the detector's threshold;
- ``det@S xB``: the same, B photos a call (padded to one S x S shape);
- ``classes``: the offline classifier's probability mass on ImageNet classes that hold text
  (signs, screens, labels, book jackets ...), computed anyway for the image vector: the
  share of rendered photos it would pass at the threshold that passes 95 % of ImageNet's
  text-free share (it cannot see text drawn over a dog: reported to show why it is not used).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_ocr import CHINESE, ENGLISH, make_rendered, photos  # noqa: E402

from searchengine.media.images import load_image  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# ImageNet classes whose pictures usually carry writing
TEXT_CLASSES = ("web site", "menu", "street sign", "book jacket", "comic book", "envelope", "packet",
                "scoreboard", "crossword puzzle", "monitor", "screen", "notebook", "binder", "carton",
                "bookshop", "tobacco shop", "toyshop", "barbershop", "cinema", "grocery store", "pill bottle",
                "lotion", "sunscreen", "pop bottle", "beer bottle", "wine bottle", "water bottle", "jersey",
                "digital clock", "odometer", "vending machine", "parking meter", "pay-phone", "mailbox",
                "library", "slot", "cash machine", "television", "desktop computer", "laptop", "rule",
                "sweatshirt", "T-shirt", "face powder", "hand-held computer", "cellular telephone")


def det_probability(engine, bgr: np.ndarray, side: int) -> np.ndarray:
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    det = engine.text_det
    small = DetPreProcess(side, "max", det.mean, det.std)(bgr)
    return det.infer(small)[0]


def to_bgr(image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def batched(engine, bgrs: list[np.ndarray], side: int, size: int) -> tuple[list[bool], float]:
    """The detector on ``size`` photos a call, each shrunk to fit ``side`` and padded to
    side x side (the padding is mid-grey: no text there)."""
    from PIL import Image

    det = engine.text_det
    thresh = det.postprocess_op.thresh
    mean, std = np.asarray(det.mean, np.float32), np.asarray(det.std, np.float32)
    out, t0 = [], time.perf_counter()
    for i in range(0, len(bgrs), size):
        chunk = bgrs[i : i + size]
        arr = np.zeros((len(chunk), 3, side, side), np.float32)
        shapes = []
        for j, bgr in enumerate(chunk):
            h, w = bgr.shape[:2]
            r = min(1.0, side / max(h, w))
            nh, nw = max(32, round(h * r / 32) * 32), max(32, round(w * r / 32) * 32)
            small = np.asarray(Image.fromarray(bgr).resize((nw, nh), Image.BILINEAR), np.float32) / 255.0
            arr[j, :, :nh, :nw] = ((small - mean) / std).transpose(2, 0, 1)
            shapes.append((nh, nw))
        prob = det.infer(arr)[0]
        out += [bool((prob[j, 0, :nh, :nw] > thresh).any()) for j, (nh, nw) in enumerate(shapes)]
    return out, (time.perf_counter() - t0) * 1000 / max(1, len(bgrs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--per-language", type=int, default=40)
    ap.add_argument("--sides", default="480,384,320,256")
    ap.add_argument("--options", default="full,det,classes", help="which options to measure")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    rng = random.Random(14)  # the same set as bench_ocr
    pool = photos()
    rng.shuffle(pool)
    work = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    n = min(args.per_language, len(ENGLISH), len(CHINESE))
    rendered = [load_image(i.path) for i in make_rendered(work, n, rng, pool[: 2 * n])]
    imagenet = [load_image(p) for p in sorted((DATA / "imagenet-dev" / "images").iterdir())[: args.photos]]

    from searchengine.ocr.stage import shared_reader

    reader = shared_reader()
    engine = reader._load()
    sets = {"rendered": [to_bgr(i) for i in rendered], "imagenet": [to_bgr(i) for i in imagenet]}
    thresh = engine.text_det.postprocess_op.thresh
    figures: dict[str, dict] = {}

    def row(name: str, ms: dict[str, float], passed: dict[str, float]) -> None:
        figures[name] = {"ms_rendered": round(ms["rendered"], 1), "ms_imagenet": round(ms["imagenet"], 1),
                         "pass_rendered": round(passed["rendered"], 3), "pass_imagenet": round(passed["imagenet"], 3)}
        print(f"{name:<14} ms/photo: text {ms['rendered']:6.1f}  imagenet {ms['imagenet']:6.1f}   "
              f"passed on: text {passed['rendered']:.3f}  imagenet {passed['imagenet']:.3f}", flush=True)

    options = set(args.options.split(","))
    engine(sets["imagenet"][0])  # warm up
    ms, passed = {}, {}
    for key, images in (("rendered", rendered), ("imagenet", imagenet)) if "full" in options else ():
        times, found = [], 0
        for image in images:
            t0 = time.perf_counter()
            result, _ = engine(to_bgr(image))
            times.append((time.perf_counter() - t0) * 1000)
            found += bool(result)
        ms[key], passed[key] = statistics.median(times), found / len(images)
    if "full" in options:
        row("full", ms, passed)

    for side in [int(s) for s in args.sides.split(",")] if "det" in options else []:
        ms, passed = {}, {}
        for key, bgrs in sets.items():
            times, hits = [], 0
            for bgr in bgrs:
                t0 = time.perf_counter()
                prob = det_probability(engine, bgr, side)
                times.append((time.perf_counter() - t0) * 1000)
                hits += bool((prob > thresh).any())
            ms[key], passed[key] = statistics.median(times), hits / len(bgrs)
        row(f"det@{side}", ms, passed)
        for size in (8,):
            ms, passed = {}, {}
            for key, bgrs in sets.items():
                flags, ms[key] = batched(engine, bgrs, side, size)
                passed[key] = sum(flags) / len(flags)
            row(f"det@{side} x{size}", ms, passed)

    if "classes" not in options:
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        return
    from searchengine.encoders.registry import load_encoder
    from searchengine.encoders.offline_backend import imagenet_class_names

    names = imagenet_class_names()
    wanted = [i for i, c in enumerate(names) if c in TEXT_CLASSES]
    from searchengine import Settings

    enc = load_encoder("offline:e5-effnet", "cpu", "fp32", Settings().cache_dir)
    mass = {}
    for key, images in (("rendered", rendered), ("imagenet", imagenet)):
        probs = enc.class_probabilities([enc.prepare_image(i) for i in images])  # type: ignore[attr-defined]
        mass[key] = probs[:, wanted].sum(axis=1)
    cut = float(np.quantile(mass["imagenet"], 0.95))
    row("classes", {"rendered": 0.0, "imagenet": 0.0},
        {"rendered": float((mass["rendered"] > cut).mean()), "imagenet": float((mass["imagenet"] > cut).mean())})
    print(f"  ({len(wanted)} text-bearing classes; threshold {cut:.3f} = 95th percentile of imagenet-dev)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
