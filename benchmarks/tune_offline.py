"""Pick the offline profile's settings (top-T, class-name prompt, input normalisation) by
measurement on ../shared/data: ImageNet zero-shot top-1/top-5 and COCO Recall@K both ways.

    python benchmarks/tune_offline.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from torchvision import transforms

from searchengine.encoders.offline_backend import IMAGE_SIZE
from searchengine.media.images import load_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
NORMS = {"imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), "half": ((0.5,) * 3, (0.5,) * 3)}
PROMPTS = ["a photo of a {}.", "{}", "a picture of a {}, a type of thing"]
TOPS = [1, 3, 5, 10, 20, 50]


def manifest(name):
    folder = SHARED / name
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return folder, rows


def probs_for(enc, folder, rows, norm):
    mean, std = NORMS[norm]
    tf = transforms.Compose([
        transforms.Resize(IMAGE_SIZE + 32, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(IMAGE_SIZE), transforms.ToTensor(), transforms.Normalize(mean, std)])
    out = []
    for i in range(0, len(rows), 32):
        out.append(enc.class_probabilities([tf(load_image(folder / r["path"])) for r in rows[i:i + 32]]))
    return np.concatenate(out)


def recall(sim, truth, k):
    """sim: queries x items; truth: list of sets of correct item indexes."""
    top = np.argsort(-sim, axis=1)[:, :k]
    return float(np.mean([bool(set(top[q]) & truth[q]) for q in range(len(truth))]))


def main():
    # the torch implementation: it can re-embed the class names with other prompts and
    # expose the classifier's probabilities (the ONNX one ships them precomputed)
    from searchengine.encoders.offline_backend import OfflineEncoder, _load_torch_models

    enc = OfflineEncoder("offline:minilm-effnet", *_load_torch_models("offline:minilm-effnet", "cpu"), "cpu")
    inet_folder, inet = manifest("imagenet-dev")
    coco_folder, coco = manifest("coco-dev")
    labels = [r["label"] for r in inet]
    class_index = {c: i for i, c in enumerate(enc.class_names)}
    known = [class_index.get(l) for l in labels]
    print(f"imagenet-dev labels matching torchvision names: {sum(k is not None for k in known)}/{len(known)}")
    captions = [t for r in coco for t in r["texts"]]
    caption_owner = [i for i, r in enumerate(coco) for _ in r["texts"]]
    cap_vecs = enc.encode_texts(captions)
    inet_text = enc.encode_texts([r["texts"][0] for r in inet])
    for norm in NORMS:
        p_inet = probs_for(enc, inet_folder, inet, norm)
        p_coco = probs_for(enc, coco_folder, coco, norm)
        pred = np.argmax(p_inet, axis=1)
        acc = np.mean([k is not None and pred[i] == k for i, k in enumerate(known)])
        print(f"norm={norm}: classifier top-1 on imagenet-dev {acc:.3f}")
        for prompt in PROMPTS:
            enc.set_prompt(prompt)
            for t in TOPS:
                iv = enc.conse(p_inet, t)
                cv = enc.conse(p_coco, t)
                zs = inet_text @ iv.T  # label prompts x images
                z1 = recall(zs.T, [{i} for i in range(len(inet))], 1)  # image -> its label prompt
                t2i = [recall(cap_vecs @ cv.T, [{o} for o in caption_owner], k) for k in (1, 5, 10)]
                owners = [set(j for j, o in enumerate(caption_owner) if o == i) for i in range(len(coco))]
                i2t = [recall(cv @ cap_vecs.T, owners, k) for k in (1, 5, 10)]
                print(f"  prompt={prompt!r:40} T={t:<3} inet zero-shot@1 {z1:.3f}  coco t2i R@1/5/10 "
                      f"{t2i[0]:.3f}/{t2i[1]:.3f}/{t2i[2]:.3f}  i2t {i2t[0]:.3f}/{i2t[1]:.3f}/{i2t[2]:.3f}")


if __name__ == "__main__":
    main()
