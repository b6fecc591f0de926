"""Running exported graphs with ONNX Runtime on the CPU. No torch here: a query process
that finds its exported graphs never imports it."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.errors import ModelUnavailableError

log = logging.getLogger(__name__)


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxGraph:
    """One ONNX file; its session is created on the first call, once, whichever thread asks."""

    def __init__(self, path: Path):
        self.path = path
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
        """A session over the graph as optimised by ONNX Runtime, which is saved beside it
        the first time (optimising takes longer than loading: it would cost every cold
        query process a tenth of a second)."""
        import onnxruntime as ort

        level = ort.GraphOptimizationLevel
        optimised = self.path.with_suffix(".opt.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if optimised.is_file():
            options.graph_optimization_level = level.ORT_DISABLE_ALL
            return ort.InferenceSession(str(optimised), sess_options=options, providers=providers)
        options.graph_optimization_level = level.ORT_ENABLE_EXTENDED  # not hardware-specific
        tmp = optimised.with_name(f".{optimised.name}.{os.getpid()}.tmp")
        options.optimized_model_filepath = str(tmp)
        session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        try:
            os.replace(tmp, optimised)
        except OSError as exc:  # a read-only cache: fine, just slower to load next time
            log.info("cannot keep the optimised graph %s: %s", optimised, exc)
        return session

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def run(self, **inputs: np.ndarray) -> np.ndarray:
        session = self._get()
        return session.run(None, inputs)[0]
