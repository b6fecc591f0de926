"""The Encoder protocol every backend implements."""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Encoder(Protocol):
    """Maps texts and images into one space; every returned row is L2-normalised float32.

    Image encoding is split in two so that the CPU-bound preparation (resize, normalise)
    runs in decode worker threads while the model encodes the previous batch.
    """

    spec: str
    dim: int
    precision: str  # concrete: fp32, int8 or fp16 (see searchengine.encoders.precision)
    input_side: int | None  # the side images are resized to, when known (decoders may draft to it)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def prepare_image(self, image: Image.Image) -> Any: ...

    def encode_prepared_images(self, prepared: Sequence[Any]) -> np.ndarray: ...


def encode_queries(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Texts a user searches with. A model with separate query and passage roles (e5) has
    ``encode_queries``; for the others a query is encoded like any text."""
    method = getattr(encoder, "encode_queries", None)
    return method(texts) if method is not None else encoder.encode_texts(texts)


def encode_images(encoder: Encoder, images: Sequence[Image.Image]) -> np.ndarray:
    """Prepare and encode images in one step (for queries and small batches)."""
    return encoder.encode_prepared_images([encoder.prepare_image(img) for img in images])


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
