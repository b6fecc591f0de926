"""Pick how offline:e5-effnet makes a class's vector from its names, by measurement on
../shared/data: text->photo Recall@1/5 with the English prompts of imagenet-dev, with the
Chinese ones of benchmarks/data/imagenet-dev-zh.jsonl, and COCO captions both ways.

    python benchmarks/tune_e5.py [--top-t 10]

The class probabilities of every photo are computed once (the exported EfficientNet graph);
each recipe only changes the class vectors, so all are compared on the same photos.

The second table sweeps how much of e5's common direction ``mu`` (the mean of the class
prompts' vectors, see IMAGE_CENTER in searchengine/encoders/multilingual_offline.py) each
vector loses - photos and texts each their own share - and adds one more column: the rank
of the Chinese note samples/notes/茶.md for four English questions about it, among the sample
notes, the sample photos and the 80 COCO photos (1 = found first).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchengine.encoders.base import l2_normalise  # noqa: E402
from searchengine.encoders.multilingual_offline import (E5Text, chinese_class_names, class_vectors,  # noqa: E402
                                                       common_direction, load)
from searchengine.encoders.offline_backend import conse, imagenet_class_names  # noqa: E402
from searchengine.media.images import load_image  # noqa: E402
from searchengine.media.text import chunk_text, read_text  # noqa: E402

TEA_QUESTIONS = ["the history of tea drinking in China", "water temperature for green tea",
                 "friends drinking tea together", "a book about tea from the Tang dynasty"]

SHARED = ROOT.parent / "shared" / "data"


def rows_of(manifest: Path) -> list[dict]:
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]


def probabilities(enc, folder: Path, rows: list[dict]) -> np.ndarray:
    out = []
    for i in range(0, len(rows), 32):
        prepared = [enc.prepare_image(load_image(folder / r["path"]).convert("RGB")) for r in rows[i:i + 32]]
        out.append(enc.class_probabilities(prepared))
    return np.concatenate(out)


def recall_text_to_image(queries: np.ndarray, images: np.ndarray, ks=(1, 5)) -> dict[str, float]:
    ranks = np.argsort(-(queries @ images.T), axis=1)
    return {f"R@{k}": round(float(np.mean([i in ranks[i, :k] for i in range(len(queries))])), 3) for k in ks}


def coco(enc_probs: np.ndarray, rows: list[dict], class_vecs: np.ndarray, top_t: int) -> dict[str, float]:
    images = conse(enc_probs, class_vecs, top_t)
    captions, owner = [], []
    for i, r in enumerate(rows):
        for t in r["texts"]:
            captions.append(t)
            owner.append(i)
    caps = E5Text.embed(captions, query=True)
    owner_arr = np.asarray(owner)
    t2i = np.argsort(-(caps @ images.T), axis=1)[:, :5]
    i2t = np.argsort(-(images @ E5Text.embed(captions, query=False).T), axis=1)[:, :5]
    return {"t2i R@1": round(float(np.mean(t2i[:, 0] == owner_arr)), 3),
            "t2i R@5": round(float(np.mean([o in row for o, row in zip(owner, t2i)])), 3),
            "i2t R@1": round(float(np.mean(owner_arr[i2t[:, 0]] == np.arange(len(rows)))), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top-t", type=int, default=10)
    args = ap.parse_args()
    enc = load("offline:e5-effnet", "cpu", "fp32")
    en_names, zh_names = imagenet_class_names(), chinese_class_names()
    inet = SHARED / "imagenet-dev"
    inet_rows = rows_of(inet / "manifest.jsonl")
    zh_rows = rows_of(ROOT / "benchmarks" / "data" / "imagenet-dev-zh.jsonl")
    coco_rows = rows_of(SHARED / "coco-dev" / "manifest.jsonl")
    p_inet = probabilities(enc, inet, inet_rows)
    p_coco = probabilities(enc, SHARED / "coco-dev", coco_rows)
    q_en = E5Text.embed([r["texts"][0] for r in inet_rows], query=True)
    q_zh = E5Text.embed([r["texts"][0] for r in zh_rows], query=True)

    def passages(template: str, names: list[str]) -> np.ndarray:
        return E5Text.embed([template.format(n) for n in names], query=False)

    en = passages("{}", en_names)
    zh = passages("{}", zh_names)
    en_photo = passages("a photo of a {}", en_names)
    zh_photo = passages("一张{}的照片", zh_names)
    recipes = {
        "en": en,
        "zh": zh,
        "mean(en, zh)": l2_normalise(en + zh),
        "mean(photo en, photo zh)": l2_normalise(en_photo + zh_photo),
        "joint 'en / zh'": passages("{}", [f"{a} / {b}" for a, b in zip(en_names, zh_names)]),
        "mean(en, zh, photo en, photo zh)": l2_normalise(en + zh + en_photo + zh_photo),
    }
    print(f"{'recipe':<36} {'EN t->i R@1':>11} {'R@5':>5} {'ZH t->i R@1':>11} {'R@5':>5}  COCO")
    for name, vecs in recipes.items():
        images = conse(p_inet, vecs, args.top_t)
        r_en = recall_text_to_image(q_en, images)
        r_zh = recall_text_to_image(q_zh, images)
        print(f"{name:<36} {r_en['R@1']:>11} {r_en['R@5']:>5} {r_zh['R@1']:>11} {r_zh['R@5']:>5}  "
              f"{coco(p_coco, coco_rows, vecs, args.top_t)}", flush=True)
    centering(enc, args.top_t, p_inet, p_coco, coco_rows, q_en, q_zh, en_names, zh_names)


def centering(enc, top_t, p_inet, p_coco, coco_rows, q_en, q_zh, en_names, zh_names) -> None:
    from searchengine.encoders.offline_backend import conse

    cv = class_vectors(en_names, zh_names)
    mu = common_direction(en_names, zh_names)
    samples = ROOT / "samples"
    photos = sorted((samples / "images").iterdir())
    p_samples = enc.class_probabilities([enc.prepare_image(load_image(p).convert("RGB")) for p in photos])
    notes = [(p.name, c.text) for p in sorted((samples / "notes").iterdir())
             for c in chunk_text(read_text(p), 1000, 100)]
    tea = [i for i, (name, _) in enumerate(notes) if name == "茶.md"]
    raw = {"notes": E5Text.embed([t for _, t in notes], query=False),
           "questions": E5Text.embed(TEA_QUESTIONS, query=True),
           "captions_q": E5Text.embed([t for r in coco_rows for t in r["texts"]], query=True),
           "captions_p": E5Text.embed([t for r in coco_rows for t in r["texts"]], query=False)}
    owner = np.asarray([i for i, r in enumerate(coco_rows) for _ in r["texts"]])
    print(f"\n{'photos / texts lose':<22} {'EN t->i':>7} {'ZH t->i':>7} {'COCO t->i':>9} {'i->t':>5}  EN->ZH note ranks")
    for image_share, text_share in [(0, 0), (0.8, 0.6), (0.8, 0.8), (1.0, 0.6), (1.0, 0.8), (1.0, 1.0), (1.2, 0.8)]:
        def img(probs: np.ndarray) -> np.ndarray:
            return l2_normalise(conse(probs, cv, top_t) - image_share * mu)

        def txt(v: np.ndarray) -> np.ndarray:
            return l2_normalise(v - text_share * mu)

        inet_images, coco_images = img(p_inet), img(p_coco)
        r_en = recall_text_to_image(txt(q_en), inet_images)["R@1"]
        r_zh = recall_text_to_image(txt(q_zh), inet_images)["R@1"]
        t2i = float(np.mean(np.argmax(txt(raw["captions_q"]) @ coco_images.T, axis=1) == owner))
        i2t = float(np.mean(owner[np.argmax(coco_images @ txt(raw["captions_p"]).T, axis=1)] == np.arange(len(coco_rows))))
        corpus = np.concatenate([txt(raw["notes"]), img(p_samples), coco_images])
        scores = txt(raw["questions"]) @ corpus.T
        ranks = [int((row > row[tea].max()).sum()) + 1 for row in scores]
        print(f"{image_share:>8} / {text_share:<11} {r_en:>7} {r_zh:>7} {t2i:>9.3f} {i2t:>5.3f}  {ranks}", flush=True)


if __name__ == "__main__":
    main()
