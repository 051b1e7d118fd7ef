"""Stage 1 of Motionformer trajectory attention: every patch query attends to every frame separately.

Paper: Patrick, Campbell, Asano, Misra, Metze, Feichtenhofer, Vedaldi, Henriques. "Keeping Your Eye on the Ball:
Trajectory Attention in Video Transformers". NeurIPS 2021. https://arxiv.org/abs/2106.05392

    @inproceedings{patrick2021keeping,
      title={Keeping Your Eye on the Ball: Trajectory Attention in Video Transformers},
      author={Patrick, Mandela and Campbell, Dylan and Asano, Yuki M. and Misra, Ishan and Metze, Florian and
              Feichtenhofer, Christoph and Vedaldi, Andrea and Henriques, Jo{\\~a}o F.},
      booktitle={Advances in Neural Information Processing Systems}, year={2021}}

For patch tokens ordered frame-major (n = F * P), query s and frame t':

    a[s, t', :] = softmax over the P keys of frame t' of (scale * q_s . k)      (attention dropout on a)
    y[s, t', :] = sum over those keys of a[s, t', key] * v[key]

The result ``y`` (``[B, heads, n, F, d]``) holds one "trajectory token" per (query, frame) pair. The reference
implementation computes the full ``n x n`` logits and reshapes them to ``(n, F, P)``; that tensor (and its softmax,
dropout mask and dropout output, all kept for backward) is what makes the layer run out of memory. Backends:

* ``math``: that explicit math (the reference implementation's), kept for tests and as the ground truth.
* ``sdpa``: the same thing as F independent spatial attentions (all queries against the keys of one frame), run as
  one batched ``scaled_dot_product_attention`` call, so the fused flash / memory-efficient kernels are used (flash
  on CPU too); only the output and a log-sum-exp per (query, frame) are kept for backward.
* ``triton``: a fused kernel (``trajectory_attention_triton.py``): online softmax per (query block, frame), saving
  only the per-(query, frame) log-sum-exp for its own backward.

All backends apply attention dropout to the per-frame softmax, exactly like the reference; softmax runs in float32
for float16 / bfloat16 inputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["BACKENDS", "trajectory_attention", "trajectory_attention_math", "trajectory_attention_sdpa"]

BACKENDS = ("math", "sdpa", "triton")  # the one attention-backend vocabulary (kernels, models, flags)


def _check_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_frames: int) -> int:
    """Validate shapes and return the number of patches per frame."""
    if q.dim() != 4 or k.shape != q.shape or v.shape != q.shape:
        raise ValueError(
            "trajectory_attention expects q, k, v of one shape [B, heads, n, d]; got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share a dtype; got {q.dtype}, {k.dtype}, {v.dtype}")
    num_tokens = q.shape[2]
    if num_frames < 1 or num_tokens % num_frames != 0:
        raise ValueError(
            f"trajectory_attention: {num_tokens} patch tokens cannot be split into num_frames={num_frames} frames "
            "(tokens must be frame-major, n = num_frames * patches_per_frame; drop the CLS token first)"
        )
    return num_tokens // num_frames


def trajectory_attention_math(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_frames: int,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """The explicit math: full ``n x n`` logits, reshaped to ``(n, F, P)``, softmax within each frame."""
    num_patches = _check_inputs(q, k, v, num_frames)
    batch, heads, num_tokens, head_dim = q.shape
    scale = head_dim**-0.5 if scale is None else scale
    logits = torch.matmul(q * scale, k.transpose(-2, -1))  # [B, h, n, n]
    logits = logits.view(batch, heads, num_tokens, num_frames, num_patches)  # [B, h, n, F, P]
    attn = logits.softmax(dim=-1, dtype=torch.promote_types(q.dtype, torch.float32)).to(q.dtype)
    attn = F.dropout(attn, p=dropout_p, training=dropout_p > 0)
    v_frames = v.view(batch, heads, num_frames, num_patches, head_dim)  # [B, h, F, P, d]
    return torch.einsum("bhsfp,bhfpd->bhsfd", attn, v_frames)  # [B, h, n, F, d]


def trajectory_attention_sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_frames: int,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """F spatial attentions (all queries against one frame's keys) in a single batched SDPA call."""
    num_patches = _check_inputs(q, k, v, num_frames)
    batch, heads, num_tokens, head_dim = q.shape
    # Frames take the place of SDPA's head axis: its fused kernels (flash / memory-efficient on GPU, flash on CPU)
    # only accept 4-D inputs and silently fall back to the explicit math for 5-D ones. The queries are shared by
    # all frames, so they are broadcast along that axis (stride 0), not copied.
    q_frames = q.reshape(batch * heads, 1, num_tokens, head_dim).expand(-1, num_frames, -1, -1)  # [Bh, F, n, d]
    k_frames = k.reshape(batch * heads, num_frames, num_patches, head_dim)  # [Bh, F, P, d]
    v_frames = v.reshape(batch * heads, num_frames, num_patches, head_dim)  # [Bh, F, P, d]
    out = F.scaled_dot_product_attention(q_frames, k_frames, v_frames, dropout_p=dropout_p, scale=scale)
    out = out.view(batch, heads, num_frames, num_tokens, head_dim)  # [B, h, F, n, d]
    return out.permute(0, 1, 3, 2, 4)  # [B, h, n, F, d]


def _triton_backend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_frames: int, dropout_p: float = 0.0,
                    scale: float | None = None) -> torch.Tensor:
    # Imported on first use: importing triton fixes the interpreter choice (TRITON_INTERPRET) for the process.
    from common.kernels.trajectory_attention_triton import trajectory_attention_triton

    _check_inputs(q, k, v, num_frames)
    return trajectory_attention_triton(q, k, v, num_frames, dropout_p=dropout_p, scale=scale)


_BACKEND_FUNCTIONS = {
    "math": trajectory_attention_math,
    "sdpa": trajectory_attention_sdpa,
    "triton": _triton_backend,
}


def trajectory_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_frames: int,
    backend: str = "sdpa",
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """Trajectory tokens ``[B, heads, n, F, d]`` of stage 1 (patch tokens only, frame-major, no CLS).

    Args:
        q, k, v: ``[B, heads, n, d]`` with ``n = num_frames * patches_per_frame``.
        num_frames: F, the number of token frames.
        backend: ``"math"``, ``"sdpa"`` or ``"triton"`` (see the module docstring).
        dropout_p: attention dropout on the per-frame softmax; pass 0 in eval mode (callers own ``training``).
        scale: logit scale, ``head_dim ** -0.5`` when None.
    """
    try:
        function = _BACKEND_FUNCTIONS[backend]
    except KeyError:
        raise ValueError(f"unknown trajectory-attention backend {backend!r}; choose one of {BACKENDS}") from None
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1); got {dropout_p}")
    return function(q, k, v, num_frames, dropout_p=dropout_p, scale=scale)
