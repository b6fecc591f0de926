"""open_clip models: weights load through open_clip's own mechanism (tags, files,
``local-dir:``, ``hf-hub:``)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from searchengine.encoders.base import l2_normalise
from searchengine.encoders.clip_tokenizer import ClipTokenizer, write_tables
from searchengine.encoders.export_cache import build_once, export_folder, exported_or_why_not, file_identity
from searchengine.encoders.onnx_runtime import OnnxTowers
from searchengine.encoders.precision import resolve_precision
from searchengine.encoders.preprocess import ImagePrep
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pth", "*.pt")
# What `auto` means on the CPU, chosen by measurement (benchmarks/bench_engine.py): ViT-B-32's
# int8 towers keep cosine >= 0.98 to fp32 and run about twice as fast.
CPU_AUTO_PRECISION = "int8"
# texts whose tokens must match the model's own tokenizer before its text tower is exported
TOKENIZER_PROBES = ["a photo of a dog", "Ünïcode CAFÉ, naïve!", "don't 42 &amp; 3.14", "一只狗", "x" * 300]


def _supply_weights_hint(spec: str) -> str:
    return (
        f"To use {spec} without network access, supply its weights: either put the file "
        "in the Hugging Face cache (HF_HOME) on a machine with network and copy the cache, or "
        "download the weights file and use the spec open_clip:ARCH/PATH/TO/weights.bin, or a "
        "folder with open_clip_config.json and open_clip_model.safetensors as "
        "open_clip:local-dir:/path/to/folder."
    )


# open_clip's Hugging Face repository of the default model (open_clip/pretrained.py), so that
# `--model auto` finds out whether its weights are cached without importing open_clip/torch
HF_REPOS = {"ViT-B-32/laion2b_s34b_b79k": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"}


def weights_reachable(name: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the weights of built-in ``ARCH/TAG`` are in the Hugging Face cache or the hub
    answers; with a reason to show the user."""
    import os
    import socket

    from huggingface_hub import try_to_load_from_cache

    repo = HF_REPOS.get(name)
    if repo is None:  # importing open_clip imports torch (about 1 GB resident): only when needed
        import open_clip

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
    """A CLIP model from open_clip on torch (CUDA, models ONNX cannot run, and the source of
    the ONNX export): text and image towers into one space."""

    precision = "fp32"
    input_side: int | None = None

    def __init__(self, spec: str, model: Any, preprocess: Any, tokenizer: Any, device: str):
        import torch

        self.spec = spec
        self._torch = torch
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._device = device
        self._text_lock = threading.Lock()
        with torch.inference_mode():
            probe = model.encode_text(tokenizer(["probe"]).to(device))
        self.dim = int(probe.shape[-1])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        with self._text_lock, torch.inference_mode():  # HF tokenizers refuse concurrent use
            tokens = self._tokenizer(list(texts)).to(self._device)
            feats = self._model.encode_text(tokens)
        return l2_normalise(feats.float().cpu().numpy())

    def prepare_image(self, image: Image.Image) -> Any:
        return self._preprocess(image)

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            dtype = next(self._model.parameters()).dtype
            batch = torch.stack(list(prepared)).to(self._device, dtype=dtype)
            feats = self._model.encode_image(batch)
        return l2_normalise(feats.float().cpu().numpy())


def _load_torch(spec: str, name: str, device: str) -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) through open_clip's own loading."""
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ModelUnavailableError(
            f"cannot load {spec}: open_clip_torch is not importable ({exc}); "
            "install the project with `pip install -e .`"
        ) from exc

    if name.startswith("local-dir:"):
        folder = _local_dir(spec, name)
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
    return model, preprocess, tokenizer


def _local_dir(spec: str, name: str) -> Path:
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
    return folder


def _weights_identity(spec: str, name: str) -> str:
    """Tells apart different weights behind one spec: files are identified by size and
    mtime; a built-in tag or hub name always means the same weights."""
    if name.startswith("local-dir:"):
        folder = _local_dir(spec, name)
        files = sorted({p for pattern in WEIGHT_FILES for p in folder.glob(pattern)})
        return file_identity(folder / "open_clip_config.json", *files)
    _, _, pretrained = name.partition("/")
    if pretrained and ("/" in pretrained or Path(pretrained).expanduser().is_file()):
        return file_identity(Path(pretrained).expanduser())
    return ""


def load(spec: str, name: str, device: str, precision: str = "auto", cache_dir: Path | None = None) -> Any:
    """``name`` is what follows ``open_clip:`` in the spec. On the CPU the towers run on ONNX
    Runtime (exported once into ``cache_dir``), on CUDA on torch (fp16 or fp32)."""
    device = resolve_device(device)
    concrete = resolve_precision(precision, device, CPU_AUTO_PRECISION)
    if not device.startswith("cuda"):
        folder = export_folder(cache_dir, spec, _weights_identity(spec, name))
        meta = build_once(folder, lambda tmp: _export(spec, name, tmp))
        if meta.get("onnx", True):
            return OpenClipOnnxEncoder(spec, folder, meta, concrete)
        log.info("%s: %s; running it on torch", spec, meta.get("why_not", "no ONNX export"))
        concrete = "fp32"
    model, preprocess, tokenizer = _load_torch(spec, name, device)
    if concrete == "fp16":
        model.half()
    encoder = OpenClipEncoder(spec, model, preprocess, tokenizer, device)
    encoder.precision = concrete
    log.info("loaded %s on %s (%s)", spec, device, concrete)
    return encoder


def _export(spec: str, name: str, out: Path) -> dict:
    """Export the text and image towers (fp32 and int8) with what a torch-free process
    needs to feed them: the BPE vocabulary and the image preparation."""
    import numpy as np
    import open_clip
    import torch

    from searchengine.encoders.onnx_export import export, optimise_in_place, quantize_int8

    model, _, tokenizer = _load_torch(spec, name, "cpu")
    with torch.no_grad():
        dim = int(model.encode_text(tokenizer(["probe"])).shape[-1])
    cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    size = cfg.get("size", getattr(model.visual, "image_size", 224))
    size = tuple(size) if isinstance(size, (tuple, list)) else (int(size), int(size))
    meta: dict = {"spec": spec, "dim": dim}
    why_not = ""
    if not isinstance(tokenizer, open_clip.tokenizer.SimpleTokenizer) or tokenizer.reduction_fn is not None:
        why_not = f"its tokenizer {type(tokenizer).__name__} has no torch-free port here"
    elif not np.array_equal(
        ClipTokenizer(Path(open_clip.tokenizer.default_bpe()), int(tokenizer.context_length or 77))(TOKENIZER_PROBES),
        tokenizer(TOKENIZER_PROBES).numpy(),
    ):
        why_not = "its tokenizer's settings (cleaning, vocabulary) differ from CLIP's default, which is what is ported"
    elif cfg.get("resize_mode", "shortest") != "shortest" or size[0] != size[1]:
        why_not = f"its image preparation ({cfg.get('resize_mode')}, {size}) has no NumPy port here"
    if why_not:
        return {**meta, "onnx": False, "why_not": why_not}

    def export_towers() -> dict:
        class TextTower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.clip = model

            def forward(self, tokens):  # type: ignore[no-untyped-def]
                return self.clip.encode_text(tokens)

        class ImageTower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.clip = model

            def forward(self, pixels):  # type: ignore[no-untyped-def]
                return self.clip.encode_image(pixels)

        context = int(tokenizer.context_length or 77)
        export(TextTower(), (tokenizer(["a photo", "of a cat"]),), out / "text.fp32.onnx",
               ["tokens"], {"tokens": {0: "batch"}})
        export(ImageTower(), (torch.zeros((2, 3, size[0], size[1])),), out / "image.fp32.onnx",
               ["pixels"], {"pixels": {0: "batch"}})
        quantize_int8(out / "text.fp32.onnx", out / "text.int8.onnx", embeddings=True)
        quantize_int8(out / "image.fp32.onnx", out / "image.int8.onnx")
        for graph in out.glob("*.onnx"):
            optimise_in_place(graph)
        write_tables(Path(open_clip.tokenizer.default_bpe()), out / "bpe_tables.json")
        prep = ImagePrep(resize=size[0], crop=size[0], mean=tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
                         std=tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
                         interpolation=str(cfg.get("interpolation", "bicubic")))
        return {"context_length": context, "image_prep": prep.to_dict()}

    return exported_or_why_not(meta, export_towers)


class OpenClipOnnxEncoder(OnnxTowers):
    """open_clip towers on ONNX Runtime. Each tower loads on first use, and nothing here
    imports torch: a text query loads the BPE vocabulary and the text graph only. (Machine-
    specific graph passes made ViT-B-32 index no faster, paired A/B 1.00, and its cold image
    queries 0.35 s slower: they stay off.)"""

    def __init__(self, spec: str, folder: Path, meta: dict, precision: str):
        super().__init__(spec, folder, meta, precision)
        self._context = int(meta.get("context_length", 77))
        self._tokenizer: ClipTokenizer | None = None

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self._tokenizer is None:
            self._tokenizer = ClipTokenizer(self._folder / "bpe_tables.json", self._context)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self._text.run(tokens=self._tokenizer(list(texts))))

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        return l2_normalise(self._image.run(pixels=np.stack(list(prepared)).astype(np.float32)))
