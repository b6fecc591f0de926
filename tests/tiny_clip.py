"""A tiny, randomly initialised open_clip model written to a folder, in the layout the
production loader reads (``open_clip:local-dir:PATH``). Deterministic for a given seed."""

from __future__ import annotations

import json
from pathlib import Path

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def write_tiny_clip(folder: Path, seed: int = 0) -> str:
    """Write config and weights; return the model spec that loads them."""
    import torch
    from open_clip.model import CLIP

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = CLIP(**TINY_CONFIG)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    config = {
        "model_cfg": TINY_CONFIG,
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                           "std": [0.26862954, 0.26130258, 0.27577711]},
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return f"open_clip:local-dir:{folder}"
