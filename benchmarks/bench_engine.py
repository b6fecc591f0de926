"""Ingestion throughput, pipeline efficiency, unchanged re-index time and query latency.

    python benchmarks/bench_engine.py [--images 500] [--model SPEC] [--precisions torch,fp32,int8] [--quality]

Without --model it measures a ViT-B-32 open_clip model with random weights, written once to
.cache/ and loaded through the production loader: the compute is that of the default model,
so the speed figures stand for it even where its trained weights cannot be downloaded.
Side by side in one run, for each precision: first-index img/s, the encoder's own img/s and
their ratio (pipeline efficiency), per-stage seconds, unchanged re-index, warm query
latency, and the cosine of its image vectors to the first precision's. --quality adds the
offline profile's Recall@1/5 at fp32 and int8 on imagenet-dev and coco-dev.
Images come from ../shared/data (imagenet-dev, then coco-dev) unless --source is given.
Figures are taken in one run; compare ratios, not absolute numbers, across machines.
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
SHARED = ROOT.parent / "shared" / "data"


def random_vit_b32(folder: Path) -> str:
    """A ViT-B-32 with random weights, in local-dir layout."""
    if not (folder / "open_clip_config.json").is_file():
        import open_clip
        import torch
        from open_clip.factory import get_model_config

        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = open_clip.create_model("ViT-B-32", pretrained=None)
        torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
        (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": get_model_config("ViT-B-32")}))
    return f"open_clip:local-dir:{folder}"


def pick_images(source: Path | None, n: int) -> list[Path]:
    candidates = [source] if source else [SHARED / "imagenet-dev" / "images", SHARED / "coco-dev" / "images"]
    files: list[Path] = []
    for folder in candidates:
        if folder and folder.is_dir():
            files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        sys.exit("no images found: pass --source DIR")
    return files[:n]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def torch_encoder(spec: str):
    """The torch implementation of ``spec`` (what 0.1 ran on the CPU), for comparison."""
    from searchengine.encoders import offline_backend, open_clip_backend

    backend, name = spec.split(":", 1)
    if backend == "offline":
        text_model, image_model = offline_backend._load_torch_models(spec, "cpu")
        return offline_backend.OfflineEncoder(spec, text_model, image_model, "cpu")
    model, preprocess, tokenizer = open_clip_backend._load_torch(spec, name, "cpu")
    return open_clip_backend.OpenClipEncoder(spec, model, preprocess, tokenizer, "cpu")


def measure(spec: str, precision: str, media: Path, work: Path, batch: int) -> dict:
    from searchengine import SearchEngine, Settings
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import load_image

    settings = Settings(index_root=work / f"indexes-{precision}", model=spec, batch_size=batch)
    encoder = torch_encoder(spec) if precision == "torch" else load_encoder(spec, "cpu", precision, settings.cache_dir)
    files = sorted(media.iterdir())
    prepared = [encoder.prepare_image(load_image(p)) for p in files]
    encoder.encode_prepared_images(prepared[:batch])  # warm-up: sessions, kernels
    encoder.encode_texts(["warm up"])

    def encoder_alone() -> float:
        t0 = time.perf_counter()
        for i in range(0, len(prepared), batch):
            encoder.encode_prepared_images(prepared[i : i + batch])
        return time.perf_counter() - t0

    before = encoder_alone()
    engine = SearchEngine.open("bench", settings=settings, encoder=encoder)
    first = engine.index([media])
    raw_s = min(before, encoder_alone())  # before and after the run: the faster is the fair bound
    second = engine.index([media])
    lat = {"text": [], "image": []}
    for i in range(30):
        t = time.perf_counter()
        engine.search(f"a photo of a dog {i}", k=10)
        lat["text"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        engine.search(image=files[i % len(files)], k=10)
        lat["image"].append((time.perf_counter() - t) * 1000)
    engine.close()
    return {"precision": precision, "first": first, "second": second, "raw_s": raw_s, "n": len(prepared),
            "lat": lat, "vectors": encoder.encode_prepared_images(prepared[:64])}


def quality(spec: str, precisions: list[str]) -> None:
    """Recall@1/5 of the offline profile at each precision, through `searchengine eval`."""
    from searchengine import Settings
    from searchengine.evaluation.runner import run_eval

    for name in ("imagenet-dev", "coco-dev"):
        manifest = SHARED / name / "manifest.jsonl"
        if not manifest.is_file():
            print(f"  {name}: not found under {SHARED}; skipped")
            continue
        rows = {}
        for precision in precisions:
            report = run_eval(manifest, ks=[1, 5], model=spec, settings=Settings.from_env(precision=precision))
            rows[precision] = {d: v for d, v in report["directions"].items() if "R@1" in v}
        for direction in rows[precisions[0]]:
            cells = "  ".join(
                f"{p}: R@1 {rows[p][direction]['R@1']:.3f} R@5 {rows[p][direction]['R@5']:.3f}" for p in precisions
            )
            print(f"  {name:<13} {direction:<14} {cells}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--model", default=None)
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--precisions", default="torch,fp32,int8",
                    help="comma-separated: torch (0.1's encoder), fp32, int8 (ONNX Runtime)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--quality", action="store_true",
                    help="also Recall@1/5 of the offline profile at fp32 and int8 on imagenet-dev and coco-dev")
    args = ap.parse_args()

    spec = args.model or random_vit_b32(ROOT / ".cache" / "vit-b-32-random")
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    images = pick_images(args.source, args.images)
    work = Path(tempfile.mkdtemp(prefix="se-bench-"))
    try:
        media = work / "media"
        media.mkdir()
        for i, src in enumerate(images):
            shutil.copy(src, media / f"{i:05d}{src.suffix.lower()}")
        results = [measure(spec, p, media, work, args.batch_size) for p in precisions]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"model {spec}; {len(images)} images, batch {args.batch_size}, one run, same machine")
    base = results[0]
    base_rate = base["first"].added / base["first"].seconds
    for r in results:
        first, st = r["first"], r["first"].stages
        rate, raw_rate = first.added / first.seconds, r["n"] / r["raw_s"]
        cos = (r["vectors"] * base["vectors"]).sum(axis=1)
        print(f"\n[{r['precision']}]")
        print(f"  first index           {first.seconds:.2f} s -> {rate:.1f} img/s  ({rate / base_rate:.2f}x {base['precision']})"
              f"  failed {first.failed}")
        print(f"  encoder alone         {raw_rate:.1f} img/s;  pipeline efficiency {rate / raw_rate:.2f}")
        print(f"  stages (s)            plan {st.plan:.2f}  decode {st.decode:.2f}  preprocess {st.preprocess:.2f}"
              f"  (in worker threads, overlapped)  encode {st.encode:.2f}  write {st.write:.2f}"
              f"  encoder waiting {st.waiting:.2f}")
        print(f"  unchanged re-index    {r['second'].seconds * 1000:.1f} ms (model needed: {r['second'].model_loaded})")
        for kind in ("text", "image"):
            lat = r["lat"][kind]
            print(f"  warm {kind} query      p50 {statistics.median(lat):.1f} ms  p95 {percentile(lat, 95):.1f} ms")
        if r is not base:
            print(f"  cosine to {base['precision']}      min {cos.min():.4f}  mean {cos.mean():.4f} (64 images)")
    if args.quality:
        print("\nquality of the offline profile (Recall@K through searchengine eval):")
        quality("offline:minilm-effnet", ["fp32", "int8"])


if __name__ == "__main__":
    main()
