"""The GPU path's figures: ViT-B-32 fp16 end to end with GPU JPEG decoding, and GPU FAISS.

    python benchmarks/gpu_bench.py [--device cuda] [--images 20000] [--vectors 1000000] [--dry-run]

Run by benchmarks/gpu_check.sh on a machine with an NVIDIA GPU. Nothing is downloaded: the
photos are JPEGs drawn here (``--distinct`` of them, 500 x 375 like imagenet-dev's, written
to a temporary folder ``--images`` times in all), and the model is open_clip ViT-B-32 with
random weights (the default model's compute; trained weights give the same speed).

1. End to end, img/s: files read from disk by ``--readers`` threads, a batch of JPEG bytes
   decoded on the GPU at once (``torchvision.io.decode_jpeg(..., device="cuda")``), resized
   to 224 and normalised there, encoded by ViT-B-32 in fp16, vectors copied back to the
   host; the encoder alone on the same batches for the pipeline's efficiency.
2. FAISS: an exact inner-product index of ``--vectors`` random 512-d vectors, on the GPU
   (the project's VectorIndex puts its flat index there with ``index_cpu_to_all_gpus``) and
   on the CPU, queries/s for batches of 1 and 1,000 queries at k=10, and whether the GPU's
   top-10 equal the CPU's.

``--dry-run`` (or ``--device cpu``) runs the same code on the CPU with small sizes, to check
the script where there is no GPU; its figures say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def draw_jpegs(folder: Path, distinct: int, total: int) -> list[Path]:
    """``distinct`` different 500 x 375 JPEGs (smooth gradients and shapes, ~30-60 kB like a
    photo), written ``total`` times in all under ``folder``."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    blobs = []
    for i in range(distinct):
        y, x = np.mgrid[0:375, 0:500].astype(np.float32)
        base = np.stack([(x * rng.uniform(0.2, 0.5) + y * rng.uniform(0.1, 0.4) + rng.uniform(0, 255)) % 256
                         for _ in range(3)], axis=-1)
        noise = rng.normal(0, 12, base.shape)
        image = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x0, y0 = int(rng.integers(0, 450)), int(rng.integers(0, 330))
            draw.ellipse((x0, y0, x0 + int(rng.integers(20, 200)), y0 + int(rng.integers(20, 150))),
                         fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90)
        blobs.append(buf.getvalue())
    paths = []
    for n in range(total):
        path = folder / f"{n:06d}.jpg"
        path.write_bytes(blobs[n % distinct])
        paths.append(path)
    return paths


def vit_b32(device: str, half: bool):
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval().to(device)
    return model.half() if half else model


def end_to_end(paths: list[Path], device: str, batch: int, readers: int, half: bool) -> dict:
    import torch
    import torch.nn.functional as F
    from torchvision.io import decode_jpeg

    model = vit_b32(device, half)
    dtype = torch.float16 if half else torch.float32
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=device).view(1, 3, 1, 1)

    def read(path: Path) -> "torch.Tensor":
        return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)

    def prepare(datas: list) -> "torch.Tensor":
        images = decode_jpeg(datas, device=device)  # one call: the batch decodes on the GPU
        out = []
        for img in images:  # resize the short side to 224, centre crop (open_clip's preprocessing)
            img = img.unsqueeze(0).float()
            h, w = img.shape[-2:]
            s = 224 / min(h, w)
            img = F.interpolate(img, size=(max(224, round(h * s)), max(224, round(w * s))), mode="bicubic",
                                align_corners=False, antialias=True)
            top, left = (img.shape[-2] - 224) // 2, (img.shape[-1] - 224) // 2
            out.append(img[..., top:top + 224, left:left + 224])
        x = torch.cat(out) / 255.0
        return ((x - mean) / std).to(dtype)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    with torch.inference_mode(), ThreadPoolExecutor(readers) as pool:
        warm = prepare([read(p) for p in batches[0]])
        model.encode_image(warm)
        sync()
        t0 = time.perf_counter()
        pending = pool.map(lambda b: [read(p) for p in b], batches)  # reads run ahead of the GPU
        n, vectors = 0, []
        decode_s = 0.0
        for datas in pending:
            t1 = time.perf_counter()
            x = prepare(datas)
            sync()
            decode_s += time.perf_counter() - t1
            v = model.encode_image(x)
            vectors.append(F.normalize(v.float(), dim=-1).cpu().numpy())
            n += len(datas)
        sync()
        total = time.perf_counter() - t0
        x = prepare([read(p) for p in batches[0]])
        t0 = time.perf_counter()
        for _ in batches:
            model.encode_image(x)
        sync()
        model_only = time.perf_counter() - t0
    return {"images": n, "seconds": total, "img_per_s": n / total, "decode_s": decode_s,
            "model_img_per_s": len(batches) * len(x) / model_only, "dim": int(vectors[0].shape[1])}


def faiss_figures(n: int, dim: int, gpu: bool) -> dict:
    import searchengine.catalog  # noqa: F401 - first: vectors.faiss_index alone is a circular import
    from searchengine.vectors.faiss_index import VectorIndex

    rng = np.random.default_rng(1)
    data = rng.standard_normal((n, dim), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[rng.choice(n, 1000, replace=False)] + 0.05 * rng.standard_normal((1000, dim), dtype=np.float32)
    index = VectorIndex(dim)
    t0 = time.perf_counter()
    for i in range(0, n, 100_000):
        index.add(np.arange(i + 1, min(n, i + 100_000) + 1, dtype=np.int64), data[i:i + 100_000])
    add_s = time.perf_counter() - t0
    cpu = index._index  # the CPU index itself (the GPU copy is made on first search)
    out = {"vectors": n, "add_s": add_s}

    def qps(search, batch: int, rounds: int) -> float:
        search(queries[:batch], 10)
        t0 = time.perf_counter()
        for r in range(rounds):
            search(queries[(r * batch) % 1000:(r * batch) % 1000 + batch], 10)
        return rounds * batch / (time.perf_counter() - t0)

    out["cpu_qps_1"] = qps(cpu.search, 1, 20)
    out["cpu_qps_1000"] = qps(cpu.search, 1000, 1)
    _, cpu_ids = cpu.search(queries, 10)
    if gpu:
        import faiss

        t0 = time.perf_counter()
        gpu_index = faiss.index_cpu_to_all_gpus(cpu)
        out["gpu_copy_s"] = time.perf_counter() - t0
        out["gpu_qps_1"] = qps(gpu_index.search, 1, 200)
        out["gpu_qps_1000"] = qps(gpu_index.search, 1000, 5)
        _, gpu_ids = gpu_index.search(queries, 10)
        out["gpu_top10_equal"] = float((np.sort(gpu_ids, axis=1) == np.sort(cpu_ids, axis=1)).all(axis=1).mean())
    scores, ids = index.search(queries[:5], 10)  # through the project's own search path
    out["project_search_ok"] = bool((ids[:, 0] >= 1).all())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--distinct", type=int, default=200)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--readers", type=int, default=8)
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--dry-run", action="store_true", help="CPU, small sizes: checks the script, not a GPU")
    args = ap.parse_args()
    if args.dry_run:
        args.device, args.images, args.distinct, args.batch, args.vectors = "cpu", 16, 4, 8, 5_000
    gpu = args.device.startswith("cuda")
    if gpu:
        import torch

        if not torch.cuda.is_available():
            sys.exit("no CUDA device visible to torch (run nvidia-smi; or use --dry-run to check the script)")
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        t0 = time.perf_counter()
        paths = draw_jpegs(Path(tmp), args.distinct, args.images)
        size = sum(p.stat().st_size for p in paths[: args.distinct]) / args.distinct / 1024
        print(f"{len(paths)} JPEGs of 500 x 375 ({size:.0f} kB each) written in {time.perf_counter() - t0:.1f} s",
              flush=True)
        e2e = end_to_end(paths, args.device, args.batch, args.readers, half=gpu)
    precision = "fp16" if gpu else "fp32"
    print(f"ViT-B-32 {precision} end to end on {args.device} (read, decode_jpeg on {args.device}, resize, encode): "
          f"{e2e['images']} images in {e2e['seconds']:.2f} s = {e2e['img_per_s']:.1f} img/s "
          f"(decode+resize {e2e['decode_s']:.2f} s; encoder alone {e2e['model_img_per_s']:.1f} img/s; "
          f"efficiency {e2e['img_per_s'] / e2e['model_img_per_s']:.2f})", flush=True)
    f = faiss_figures(args.vectors, 512, gpu)
    line = (f"FAISS exact inner product, {f['vectors']:,} x 512: CPU {f['cpu_qps_1']:.0f} q/s one at a time, "
            f"{f['cpu_qps_1000']:.0f} q/s in batches of 1000")
    if gpu:
        line += (f"; GPU {f['gpu_qps_1']:.0f} q/s one at a time, {f['gpu_qps_1000']:.0f} q/s in batches of 1000 "
                 f"({f['gpu_qps_1000'] / f['cpu_qps_1000']:.1f}x the CPU; copy to GPU {f['gpu_copy_s']:.1f} s; "
                 f"top-10 equal to the CPU's for {f['gpu_top10_equal']:.1%} of queries)")
    print(line, flush=True)
    if args.dry_run:
        print("dry run on the CPU: the script works; these figures say nothing about a GPU")


if __name__ == "__main__":
    main()
