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


def quantize_int8(src: Path, dst: Path, *, embeddings: bool = False) -> None:
    """Dynamic int8 quantisation, per output channel, of the weights of MatMul and Gemm (and
    of the token embedding table, a Gather, with ``embeddings``: it is most of a text
    tower's file, so a query process loads half as much). Convolutions stay fp32: their
    int8 kernels were slower and lost accuracy (measured on EfficientNet-Lite0: 7 img/s and
    cosine 0.53 to fp32, against 88 img/s in fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # the quantiser logs a line per tensor on the root logger
    level = quiet.level
    quiet.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Gemm"] + (["Gather"] if embeddings else []))
    finally:
        quiet.setLevel(level)


def optimise_in_place(path: Path) -> None:
    """Replace ``path`` by the graph ONNX Runtime makes of it (fusions of attention, GELU,
    layer norm...), so that loading it later needs no optimisation: that saves a cold query
    process a tenth of a second. Only the portable (extended) level is applied."""
    import os

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3
    tmp = path.with_name(f".{path.name}.optimised")
    options.optimized_model_filepath = str(tmp)
    ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    os.replace(tmp, path)
