"""Model specs with a backend prefix, and the factory that loads them.

``open_clip:ViT-B-32/laion2b_s34b_b79k``   built-in architecture / pretrained tag or file
``open_clip:local-dir:/path/to/folder``    open_clip_config.json + weights in a folder
``open_clip:hf-hub:org/name``              a Hugging Face Hub repository (needs network or cache)
``offline:e5-effnet``                      the multilingual offline profile: packaged weights only
``offline:minilm-effnet``                  the English offline profile of 0.1 (packaged weights)
``auto``                                   open_clip's default where its weights are cached or
                                           downloadable, else the multilingual offline profile
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Callable

from searchengine.encoders.base import Encoder
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)

# backend prefix -> "module:factory"; modules are imported only when a model is loaded.
BACKENDS: dict[str, str] = {
    "open_clip": "searchengine.encoders.open_clip_backend:load",
    "offline": "searchengine.encoders.offline_backend:load",
}

AUTO = "auto"
DEFAULT_OPEN_CLIP = "open_clip:ViT-B-32/laion2b_s34b_b79k"
# Chinese text->photo R@1 0.89 against 0.12 for minilm-effnet on imagenet-dev; English COCO
# costs 3-7 points (docs/quality.md)
OFFLINE_PROFILE = "offline:e5-effnet"

_CACHE: dict[tuple[str, str, str, str], Encoder] = {}
_LOAD_LOCK = threading.Lock()  # one load per spec, even when threads ask at once


def resolve_auto(spec: str) -> tuple[str, str]:
    """(concrete spec, why) for ``auto``; other specs come back unchanged with no reason."""
    if spec.strip() != AUTO:
        return spec.strip(), ""
    from searchengine.encoders.open_clip_backend import weights_reachable

    reachable, why = weights_reachable(DEFAULT_OPEN_CLIP.split(":", 1)[1])
    if reachable:
        return DEFAULT_OPEN_CLIP, f"model auto: using {DEFAULT_OPEN_CLIP} ({why})"
    return OFFLINE_PROFILE, f"model auto: using the offline profile {OFFLINE_PROFILE} ({why})"


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``backend:rest`` and check the backend is known."""
    spec = (spec or "").strip()
    if spec == AUTO:
        return AUTO, ""
    backend, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ModelUnavailableError(
            f"model spec {spec!r} has no backend prefix; write it as BACKEND:MODEL, "
            f"e.g. open_clip:ViT-B-32/laion2b_s34b_b79k (backends: {', '.join(sorted(BACKENDS))})"
        )
    if backend not in BACKENDS:
        raise ModelUnavailableError(
            f"unknown model backend {backend!r} in spec {spec!r}; "
            f"known backends: {', '.join(sorted(BACKENDS))}"
        )
    return backend, rest


def load_encoder(spec: str, device: str = "auto", precision: str = "auto",
                 cache_dir: Path | None = None) -> Encoder:
    """Load (once per process, whichever threads ask) the encoder for ``spec`` at
    ``precision`` (see :mod:`searchengine.encoders.precision`); exported graphs live under
    ``cache_dir``. Towers load lazily, on their first use."""
    backend, rest = parse_spec(spec)
    key = (spec.strip(), device, precision, str(cache_dir))
    with _LOAD_LOCK:
        if key not in _CACHE:
            module_name, _, factory_name = BACKENDS[backend].partition(":")
            module = importlib.import_module(module_name)
            factory: Callable[..., Encoder] = getattr(module, factory_name)
            log.info("loading model %s (%s)", spec, precision)
            _CACHE[key] = factory(spec.strip(), rest, device, precision, cache_dir)
        return _CACHE[key]
