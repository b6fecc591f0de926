"""open_clip models: weights load through open_clip's own mechanism (tags, files,
``local-dir:``, ``hf-hub:``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from searchengine.encoders.base import l2_normalise
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pth", "*.pt")


def _supply_weights_hint(spec: str) -> str:
    return (
        f"To use {spec} without network access, supply its weights: either put the file "
        "in the Hugging Face cache (HF_HOME) on a machine with network and copy the cache, or "
        "download the weights file and use the spec open_clip:ARCH/PATH/TO/weights.bin, or a "
        "folder with open_clip_config.json and open_clip_model.safetensors as "
        "open_clip:local-dir:/path/to/folder."
    )


def weights_reachable(name: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the weights of built-in ``ARCH/TAG`` are in the Hugging Face cache or the hub
    answers; with a reason to show the user."""
    import os
    import socket

    import open_clip
    from huggingface_hub import try_to_load_from_cache

    arch, _, tag = name.partition("/")
    cfg = open_clip.get_pretrained_cfg(arch, tag) or {}
    repo = str(cfg.get("hf_hub", "")).strip("/")
    if repo:
        for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            if isinstance(try_to_load_from_cache(repo, filename), str):
                return True, f"weights found in the Hugging Face cache ({repo})"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False, "its weights are not cached and HF_HUB_OFFLINE is set"
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False, "its weights are not cached and huggingface.co cannot be reached"
    return True, "weights will be downloaded from huggingface.co"


class OpenClipEncoder:
    """A CLIP model from open_clip: text and image towers into one space."""

    def __init__(self, spec: str, model: Any, preprocess: Any, tokenizer: Any, device: str):
        import torch

        self.spec = spec
        self._torch = torch
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._device = device
        with torch.inference_mode():
            probe = model.encode_text(tokenizer(["probe"]).to(device))
        self.dim = int(probe.shape[-1])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            tokens = self._tokenizer(list(texts)).to(self._device)
            feats = self._model.encode_text(tokens)
        return l2_normalise(feats.float().cpu().numpy())

    def prepare_image(self, image: Image.Image) -> Any:
        return self._preprocess(image)

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            batch = torch.stack(list(prepared)).to(self._device)
            feats = self._model.encode_image(batch)
        return l2_normalise(feats.float().cpu().numpy())


def load(spec: str, name: str, device: str) -> OpenClipEncoder:
    """``name`` is what follows ``open_clip:`` in the spec."""
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ModelUnavailableError(
            f"cannot load {spec}: open_clip_torch is not importable ({exc}); "
            "install the project with `pip install -e .`"
        ) from exc

    device = resolve_device(device)
    if name.startswith("local-dir:"):
        folder = Path(name[len("local-dir:"):]).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                f"cannot load {spec}: {folder} has no open_clip_config.json; a local-dir model "
                "folder holds open_clip_config.json and its weights (open_clip_model.safetensors)"
            )
        if not any(p for pattern in WEIGHT_FILES for p in folder.glob(pattern)):
            raise ModelUnavailableError(
                f"cannot load {spec}: no weights file (*.safetensors, *.bin, *.pth) in {folder}"
            )
        model_name, pretrained = f"local-dir:{folder}", None
    elif name.startswith("hf-hub:"):
        model_name, pretrained = name, None
    else:
        model_name, _, pretrained_part = name.partition("/")
        pretrained = pretrained_part or None
        if model_name not in open_clip.list_models():
            raise ModelUnavailableError(
                f"unknown open_clip architecture {model_name!r} in {spec}; "
                "see open_clip.list_models() for the names"
            )
        if pretrained is None:
            raise ModelUnavailableError(
                f"{spec} names no weights; write open_clip:{model_name}/TAG with one of "
                f"{', '.join(open_clip.list_pretrained_tags_by_model(model_name)) or 'no tags'}, "
                f"or open_clip:{model_name}/PATH/TO/weights"
            )
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, device=device
        )
        tokenizer = open_clip.get_tokenizer(model_name)
    except ModelUnavailableError:
        raise
    except Exception as exc:
        raise ModelUnavailableError(
            f"cannot load model {spec}: {exc}. {_supply_weights_hint(spec)}"
        ) from exc
    model.eval()
    log.info("loaded %s on %s", spec, device)
    return OpenClipEncoder(spec, model, preprocess, tokenizer, device)
