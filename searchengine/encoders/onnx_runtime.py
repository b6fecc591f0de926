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
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = cpu_threads()
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3
                try:
                    self._session = ort.InferenceSession(
                        str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:
                    raise ModelUnavailableError(
                        f"cannot load the exported model {self.path}: {exc}; delete that folder "
                        "and it is exported again from the weights"
                    ) from exc
                log.info("loaded %s", self.path.name)
            return self._session

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def run(self, **inputs: np.ndarray) -> np.ndarray:
        session = self._get()
        return session.run(None, inputs)[0]
