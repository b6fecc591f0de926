"""Turning torch modules into ONNX files (fp32) and their int8 versions (dynamic
quantisation). Imports torch: used only when an export is missing from the cache."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)

OPSET = 17


def export(module: Any, example: tuple, path: Path, input_names: Sequence[str],
           dynamic_axes: dict[str, dict[int, str]]) -> None:
    import torch

    module.eval()
    # grad stays enabled: under no_grad, nn.MultiheadAttention takes a fused fast path
    # (aten::_native_multi_head_attention) that has no ONNX export
    with torch.inference_mode(False), torch.enable_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, example, str(path), input_names=list(input_names), output_names=["output"],
            dynamic_axes={**dynamic_axes, "output": {0: "batch"}}, opset_version=OPSET,
            dynamo=False, do_constant_folding=True,
        )


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation, per output channel, of the weights of MatMul and Gemm.
    Convolutions stay fp32: their int8 kernels were slower and lost accuracy (measured on
    EfficientNet-Lite0: 7 img/s and cosine 0.53 to fp32, against 88 img/s in fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # the quantiser logs a line per tensor on the root logger
    level = quiet.level
    quiet.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Gemm"])
    finally:
        quiet.setLevel(level)
