"""Numeric precision of an encoder: what the user asks for, and what it resolves to.

``fp32``  full precision: ONNX Runtime on the CPU, torch on CUDA
``int8``  ONNX Runtime with dynamically quantised weights (CPU only)
``fp16``  torch half precision (CUDA only)
``auto``  int8 on the CPU where the backend's measured quality holds (open_clip), else fp32
          (the offline profile), fp16 on CUDA

An index records the concrete precision it was built with; its queries use the same.
"""

from __future__ import annotations

from searchengine.errors import InvalidInputError

PRECISIONS = ("auto", "fp32", "int8", "fp16")


def check_precision(value: str) -> str:
    value = (value or "").strip().lower()
    if value not in PRECISIONS:
        raise InvalidInputError(f"--precision {value!r} is not one of {', '.join(PRECISIONS)}")
    return value


def resolve_precision(requested: str, device: str, cpu_auto: str = "int8") -> str:
    """The concrete precision for ``requested`` on ``device`` ("cpu" or "cuda[:N]");
    ``cpu_auto`` is what ``auto`` means on the CPU for this backend."""
    requested = check_precision(requested)
    on_cuda = device.startswith("cuda")
    if requested == "auto":
        return "fp16" if on_cuda else cpu_auto
    if requested == "int8" and on_cuda:
        raise InvalidInputError("--precision int8 runs on the CPU only; use fp16 or fp32 on CUDA")
    if requested == "fp16" and not on_cuda:
        raise InvalidInputError("--precision fp16 needs a CUDA GPU; use int8 or fp32 on the CPU")
    return requested
