"""Running exported graphs with ONNX Runtime on the CPU. No torch here: a query process
that finds its exported graphs never imports it."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.encoders.preprocess import ImagePrep
from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxGraph:
    """One ONNX file; its session is created on the first call, once, whichever thread asks."""

    def __init__(self, path: Path, *, machine_passes: bool = False):
        self.path = path
        self._full = machine_passes
        self._session: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._session is None:
                try:
                    self._session = self._open()
                except Exception as exc:
                    raise ModelUnavailableError(
                        f"cannot load the exported model {self.path}: {exc}; delete that folder "
                        "and it is exported again from the weights"
                    ) from exc
                log.info("loaded %s", self.path.name)
            return self._session

    def _open(self) -> Any:
        """Graphs are optimised when exported (portable passes); a query graph loads as it
        is, an indexing graph also gets the machine-specific passes (e.g. NCHWc layouts)."""
        import onnxruntime as ort

        level = ort.GraphOptimizationLevel
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = level.ORT_ENABLE_ALL if self._full else level.ORT_DISABLE_ALL
        # idle worker threads sleep instead of spinning: the cores are shared with the decode
        # threads (measured on 2 cores, 300 photos, int8 ViT-B-32: 42.3 / 39.4 img/s end to
        # end against 39.1 / 35.0 with spinning, two interleaved pairs)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.path), sess_options=options, providers=["CPUExecutionProvider"])

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def release(self) -> None:
        """Free the session (its weights and memory arena); the next call opens it again."""
        with self._lock:
            self._session = None

    def run(self, **inputs: np.ndarray) -> np.ndarray:
        session = self._get()
        return session.run(None, inputs)[0]


class OnnxTowers:
    """What every encoder on exported graphs shares: its spec, precision and dimension, the
    text and image graphs (each loaded on first use) and the image preparation."""

    image_machine_passes = False  # see OnnxGraph: worth it for convolutional image towers

    def __init__(self, spec: str, folder: Path, meta: dict, precision: str):
        if precision not in ("fp32", "int8"):
            raise ModelUnavailableError(f"{spec} on the CPU runs in fp32 or int8, not {precision}")
        self.spec = spec
        self.precision = precision
        self.dim = int(meta["dim"])
        self._folder = folder
        self._text = OnnxGraph(folder / f"text.{precision}.onnx")
        self._image = OnnxGraph(folder / f"image.{precision}.onnx", machine_passes=self.image_machine_passes)
        self._prep = ImagePrep.from_dict(meta["image_prep"])
        self.input_side: int | None = self._prep.resize

    def prepare_image(self, image: Any) -> np.ndarray:
        return self._prep(image)

    def release_image_tower(self) -> None:
        """Free the image graph's memory until the next image needs it (see OnnxGraph.release)."""
        self._image.release()
