"""Documents: what reading them costs, against a .txt of the same text. Prints figures and
ratios (one run, one machine); asserts nothing.

    .venv/bin/python benchmarks/bench_documents.py [--pages 60] [--scans 4] [--repeat 3]

The documents are made at run time (tests/document_maker.py; nothing downloaded): the same
English prose (sentences drawn at random from a fixed vocabulary, ~2,400 characters a page)
as a text PDF (reportlab), a DOCX, a PPTX (a slide a page), an ODT, an EPUB (a chapter a
page), a saved web page, an RTF and a .txt. Each is read as the indexer does - its format's
handler, then the chunker (400 characters, 80 overlap) - and timed: pages/s for the PDF,
MB/s (of the file) and the characters/s against the .txt's for every format. Scanned pages
(a page of text rendered as a picture into a PDF) are read by the OCR (PP-OCR on ONNX
Runtime, models loaded before timing): pages/s.

RAW photos (``--raw N``, 0 to skip): sample photos scaled to a ``--raw-mpx`` megapixel
sensor, each written as a camera JPEG (quality 92), as a DNG with an embedded JPEG preview
(``--preview-side`` px on its long side; cameras embed 1,600 px to full size) and as a DNG
with the raw mosaic only (tests/raw_maker.py: a 12-bit Bayer mosaic LibRaw demosaicks), and
decoded as the indexer does (``load_image`` at the offline profile's input side): photos/s
of each, and the RAW paths against the JPEG; then each RAW's image vector against its JPEG
twin's (cosine, ``--raw-model``, offline:e5-effnet by default).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from raw_maker import write_dng  # noqa: E402
from document_maker import (make_docx, make_epub, make_html, make_odt, make_pdf, make_pptx,  # noqa: E402
                            make_rtf, text_picture)
from searchengine.media.formats.base import Budget  # noqa: E402
from searchengine.media.formats.registry import format_of  # noqa: E402
from searchengine.media.text import chunk_text  # noqa: E402

WORDS = ("harbour lighthouse invoice committee garden river morning ledger migration budget sailor "
         "nets lagoon volunteers planted saplings dough overnight parking garage resurfacing owls "
         "night quarterly maintenance crane letter enclosed northern rocks seagulls counted keeper").split()


def prose(rng: random.Random, chars: int) -> str:
    out, n = [], 0
    while n < chars:
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."
        out.append(s)
        n += len(s) + 1
    return " ".join(out)


def read_and_chunk(path: Path) -> tuple[int, int]:
    fmt = format_of(path)
    assert fmt is not None and fmt.read is not None
    sections = fmt.read(path, Budget(path))
    chunks = sum(len(chunk_text(s.text, 400, 80)) for s in sections)
    return sum(len(s.text) for s in sections), chunks


def timed(path: Path, repeat: int) -> tuple[float, int, int]:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        chars, chunks = read_and_chunk(path)
        best = min(best, time.perf_counter() - t0)
    return best, chars, chunks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--scans", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--raw", type=int, default=4, help="RAW photos (0: skip)")
    ap.add_argument("--raw-mpx", type=float, default=12.0, help="their sensor's megapixels")
    ap.add_argument("--preview-side", type=int, default=1620)
    ap.add_argument("--raw-model", default="offline:e5-effnet",
                    help="encoder for the RAWs' cosine with their JPEG twins ('' to skip)")
    args = ap.parse_args()
    if args.raw:
        raw_photos(args.raw, args.raw_mpx, args.preview_side, args.repeat, args.raw_model or None)
    rng = random.Random(7)
    pages = [prose(rng, 2400) for _ in range(args.pages)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = {
            "txt": d / "same.txt",
            "pdf (text)": make_pdf(d / "same.pdf", pages),
            "docx": make_docx(d / "same.docx", pages),
            "pptx": make_pptx(d / "same.pptx", [[p] for p in pages]),
            "odt": make_odt(d / "same.odt", pages),
            "epub": make_epub(d / "same.epub", pages),
            "html": make_html(d / "same.html", "\n\n".join(pages)),
            "rtf": make_rtf(d / "same.rtf", pages),
        }
        files["txt"].write_text("\n\n".join(pages), encoding="utf-8")
        print(f"{args.pages} pages of ~2,400 characters; best of {args.repeat}; read + chunk, as the indexer does")
        print(f"{'format':<12} {'file MB':>8} {'seconds':>8} {'MB/s':>8} {'pages/s':>9} {'Mchar/s':>8} {'vs txt':>7} {'chunks':>7}")
        base = None
        for name, path in files.items():
            seconds, chars, chunks = timed(path, args.repeat)
            mb = path.stat().st_size / 1e6
            rate = chars / seconds
            base = base or rate
            print(f"{name:<12} {mb:8.2f} {seconds:8.3f} {mb / seconds:8.1f} {args.pages / seconds:9.0f} "
                  f"{rate / 1e6:8.2f} {rate / base:6.2f}x {chunks:7d}")
        if args.scans:
            from searchengine.ocr.reader import TextReader

            scans = make_pdf(d / "scans.pdf", [text_picture(p[:600]) for p in pages[:args.scans]])
            reader = TextReader()
            reader.read(text_picture("warm up the models"))
            t0 = time.perf_counter()
            fmt = format_of(scans)
            assert fmt is not None and fmt.read is not None
            sections = fmt.read(scans, Budget(scans))
            render = time.perf_counter() - t0
            read_chars = 0
            for s in sections:
                read_chars += sum(len(line.text) for line in reader.read(s.image))
            total = time.perf_counter() - t0
            print(f"scanned PDF: {len(sections)} pages rendered in {render:.2f} s, rendered + OCR {total:.2f} s: "
                  f"{len(sections) / total:.2f} pages/s ({read_chars} characters read of "
                  f"{sum(len(p[:600]) for p in pages[:args.scans])})")


def raw_photos(n: int, mpx: float, preview_side: int, repeat: int, model: str | None) -> None:
    from PIL import Image

    from searchengine.encoders.offline_backend import IMAGE_PREP
    from searchengine.media.images import load_image

    names = ["rocket.jpg", "chelsea.png", "coffee.png", "astronaut.png", "camera.png", "horse.png"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        kinds: dict[str, list[Path]] = {"jpeg": [], "raw (preview)": [], "raw (demosaic)": []}
        for i in range(n):
            photo = Image.open(ROOT / "samples" / "images" / names[i % len(names)]).convert("RGB")
            w = round((mpx * 1e6 * 1.5) ** 0.5) // 2 * 2  # 3:2
            h = round(w / 1.5) // 2 * 2
            photo = photo.resize((w, h), Image.Resampling.BILINEAR)
            photo.save(d / f"{i}.jpg", quality=92)
            kinds["jpeg"].append(d / f"{i}.jpg")
            kinds["raw (preview)"].append(write_dng(d / f"{i}p.dng", photo, preview_side=preview_side))
            kinds["raw (demosaic)"].append(write_dng(d / f"{i}m.dng", photo, preview_side=None))
        side = IMAGE_PREP.resize
        print(f"\nRAW photos: {n} of {w}x{h} ({w * h / 1e6:.1f} Mpx); decoded as the indexer does "
              f"(load_image, min_side={side}); best of {repeat}")
        print(f"{'kind':<16} {'file MB':>8} {'seconds':>8} {'photos/s':>9} {'vs jpeg':>8}")
        base = None
        for kind, paths in kinds.items():
            best = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                for p in paths:
                    load_image(p, min_side=side)
                best = min(best, time.perf_counter() - t0)
            rate = len(paths) / best
            base = base or rate
            mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
            print(f"{kind:<16} {mb:8.1f} {best:8.3f} {rate:9.2f} {rate / base:7.2f}x")
        if model:
            from searchengine.encoders.base import encode_images
            from searchengine.encoders.registry import load_encoder

            encoder = load_encoder(model)
            vectors = {kind: encode_images(encoder, [load_image(p, min_side=side) for p in paths])
                       for kind, paths in kinds.items()}
            for kind in ("raw (preview)", "raw (demosaic)"):
                cos = (vectors[kind] * vectors["jpeg"]).sum(axis=1)
                print(f"{kind}: cosine with the JPEG twin under {model}: min {cos.min():.4f}, "
                      f"mean {cos.mean():.4f} ({', '.join(f'{c:.4f}' for c in cos)})")


if __name__ == "__main__":
    main()
