"""Parameter counts and FLOPs, the numbers model zoos report.

FLOPs follow fvcore's convention, the one PySlowFast, MMAction2 and the papers' tables use: **one multiply-add
counts as one FLOP**, and only the operators fvcore handles are counted (convolutions, linear / matmul / einsum,
norms; not activations, softmax or elementwise adds). fvcore knows nothing of ``scaled_dot_product_attention`` or
``baddbmm``; the handles below count them as the matmuls they replace (``q @ k^T`` and ``attn @ v``), so a model
that uses SDPA reports the same FLOPs as the reference implementation written with ``matmul`` / ``einsum``.
``TemporalConvTaps`` (MAS-Net's temporal conv run as shifted multiply-adds on NCHW frames, an autograd Function
that the tracer records as one op) counts as the depthwise conv it computes: one multiply-add per output element
and tap, as fvcore counts the Conv3d / Conv1d form.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for param in model.parameters():
        if id(param) in seen or (trainable_only and not param.requires_grad):
            continue
        seen.add(id(param))
        total += param.numel()
    return total


def _sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import get_shape

    query, key, value = (get_shape(v) for v in inputs[:3])
    batch = math.prod(query[:-2])
    return batch * query[-2] * key[-2] * (query[-1] + value[-1])  # QK^T then attention @ V


def _baddbmm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import get_shape

    batch1, batch2 = get_shape(inputs[1]), get_shape(inputs[2])
    return batch1[0] * batch1[1] * batch1[2] * batch2[2]


def _temporal_taps_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import get_shape

    return math.prod(get_shape(outputs[0])) * get_shape(inputs[1])[-1]  # output elements x taps


EXTRA_FLOP_HANDLES = {
    "prim::PythonOp.TemporalConvTaps": _temporal_taps_flop_jit,
    "aten::scaled_dot_product_attention": _sdpa_flop_jit,
    "aten::baddbmm": _baddbmm_flop_jit,
}


def flop_analysis(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]):
    """fvcore ``FlopCountAnalysis`` with the extra handles and its warnings silenced (use ``.by_operator()``,
    ``.by_module()``, ``.unsupported_ops()``)."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, inputs)
    analysis.set_op_handle(**EXTRA_FLOP_HANDLES)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return analysis


def count_flops(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> float:
    """GFLOPs (1 multiply-add = 1 FLOP) of one forward pass on ``inputs`` (e.g. ``torch.zeros(1, 3, 16, 224,
    224)``), traced in eval mode under ``no_grad``. Divide by the batch size for per-clip numbers."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit deprecation notices from fvcore's tracer
            total = flop_analysis(model, inputs).total()
    finally:
        model.train(was_training)
    return total / 1e9


def describe_model(model: nn.Module, inputs: torch.Tensor | None = None) -> str:
    """One line for the run log: parameters (M) and, when an input is given, GFLOPs per clip."""
    parts = [f"parameters {count_parameters(model) / 1e6:.2f} M "
             f"({count_parameters(model, trainable_only=True) / 1e6:.2f} M trainable)"]
    if inputs is not None:
        batch = inputs.shape[0]
        parts.append(f"{count_flops(model, inputs) / batch:.2f} GFLOPs per clip of {tuple(inputs.shape[1:])} "
                     f"(fvcore, 1 multiply-add = 1 FLOP)")
    return ", ".join(parts)
