"""Stage 2 of Motionformer trajectory attention: attention over frames along each trajectory.

Paper: Patrick et al. "Keeping Your Eye on the Ball: Trajectory Attention in Video Transformers". NeurIPS 2021.
https://arxiv.org/abs/2106.05392 (citation in ``trajectory_attention.py``).

With the stage-1 trajectory tokens ``y~_stt'`` (``[B, n, F, D]``, one per query ``st`` and frame ``t'``):

    q~_st = y~_stt W_q + b_q,   k~_stt' = y~_stt' W_k + b_k,   v~_stt' = y~_stt' W_v + b_v  (or y~_stt')
    y_st  = sum_t' softmax_t'(<q~_st, k~_stt'> / sqrt(d)) v~_stt'            (per head)

Two options, both exact up to floating-point rounding:

* **recompute** (:func:`temporal_attention_recompute`): stage 2 runs without autograd in the forward and again,
  with autograd, in the backward. Only its inputs are kept: the stage-1 output (which the stage-1 kernels keep for
  their own backward anyway, so it costs nothing more when passed as their output's view) and the weights. Without
  it, autograd also keeps a heads-merged copy of the trajectory tokens, the keys ``k~`` (both ``[B, n, F, D]``),
  the own-frame tokens, the queries and the weights. Costs one more stage-2 forward per training step.
* **key fold** (``key_fold=True``): ``<q~_h, W_k,h y + b_k,h> = <W_k,h^T q~_h, y> + <q~_h, b_k,h>``; the last term
  does not depend on ``t'`` and cancels in the softmax. So each query is folded through ``W_k`` once (``n D^2``
  multiply-adds) instead of projecting every trajectory token (``n F D^2``), and the logits cost ``n h F D``
  instead of ``n F D``: about 7x fewer stage-2 multiply-adds for ViT-B with 8 token frames. It changes the FLOP
  count of the model (fvcore counts the folded form) and the rounding, not the function; ``b_k`` then has no
  effect and gets a zero gradient, as in the unfolded form (where its gradient is zero up to rounding too).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["temporal_attention", "temporal_attention_recompute"]


def temporal_attention(y_traj: torch.Tensor, w_q: torch.Tensor, b_q: torch.Tensor | None, w_kv: torch.Tensor,
                       b_kv: torch.Tensor | None, project_values: bool, key_fold: bool = False
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage-2 weights ``[B, n, h, F]`` and output ``y`` ``[B, n, D]``.

    Args:
        y_traj: trajectory tokens with the heads split, ``[B, n, F, h, d]`` (any strides: the stage-1 output
            permuted, no copy needed); tokens frame-major, ``n = F * P``.
        w_q, b_q: the query projection ``W_q`` ``[D, D]`` and its bias.
        w_kv, b_kv: ``[W_k; W_v]`` ``[2D, D]`` and its bias (Motionformer's ``proj_kv``).
        project_values: ``v~ = y~ W_v + b_v`` (the paper); False: ``v~ = y~`` (the released models).
        key_fold: fold ``W_k`` into the queries (see the module docstring).
    """
    batch, tokens, num_frames, heads, head_dim = y_traj.shape
    dim = heads * head_dim
    patches = tokens // num_frames
    y_traj = y_traj.reshape(batch, tokens, num_frames, dim)  # [B, n, F, D]
    # The query's own frame, t' = t: y~_stt.
    y_own = y_traj.reshape(batch, num_frames, patches, num_frames, dim).diagonal(dim1=1, dim2=3)  # [B, P, D, F]
    y_own = y_own.permute(0, 3, 1, 2).reshape(batch, tokens, dim)  # [B, n, D]
    q_tilde = F.linear(y_own, w_q, b_q).view(batch, tokens, heads, head_dim) * head_dim**-0.5  # [B, n, h, d]
    w_k, b_k = w_kv[:dim], None if b_kv is None else b_kv[:dim]
    v_tilde = y_traj
    if key_fold:
        q_folded = torch.einsum("bnhd,hdc->bnhc", q_tilde, w_k.view(heads, head_dim, dim))  # [B, n, h, D]
        logits = torch.einsum("bnhc,bnfc->bnhf", q_folded, y_traj)  # [B, n, h, F]
        if project_values:
            v_tilde = F.linear(y_traj, w_kv[dim:], None if b_kv is None else b_kv[dim:])  # [B, n, F, D]
    else:
        if project_values:
            k_tilde, v_tilde = F.linear(y_traj, w_kv, b_kv).chunk(2, dim=-1)  # each [B, n, F, D]
        else:  # only the W_k half of proj_kv is used (the reference computes and drops W_v)
            k_tilde = F.linear(y_traj, w_k, b_k)  # [B, n, F, D]
        k_tilde = k_tilde.reshape(batch, tokens, num_frames, heads, head_dim)  # [B, n, F, h, d]
        logits = torch.einsum("bnhd,bnfhd->bnhf", q_tilde, k_tilde)  # [B, n, h, F]
    weights = logits.softmax(dim=-1)  # [B, n, h, F]
    v_tilde = v_tilde.reshape(batch, tokens, num_frames, heads, head_dim)  # [B, n, F, h, d]
    y = torch.einsum("bnhf,bnfhd->bnhd", weights, v_tilde).reshape(batch, tokens, dim)  # [B, n, D]
    return weights, y


class _RecomputedStage2(torch.autograd.Function):
    """``temporal_attention``'s output, keeping only its inputs for backward (saved through
    ``save_for_backward``, so saved-tensor hooks and memory accounting see them)."""

    @staticmethod
    def forward(ctx, y_traj, w_q, b_q, w_kv, b_kv, project_values, key_fold):  # type: ignore[override]
        ctx.save_for_backward(y_traj, w_q, b_q, w_kv, b_kv)
        ctx.options = (project_values, key_fold)
        device = y_traj.device.type
        ctx.autocast = (device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        return temporal_attention(y_traj, w_q, b_q, w_kv, b_kv, project_values, key_fold)[1]

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        inputs = [None if tensor is None else tensor.detach().requires_grad_(needed)
                  for tensor, needed in zip(ctx.saved_tensors, ctx.needs_input_grad)]
        device, autocast, autocast_dtype = ctx.autocast
        with torch.enable_grad(), torch.autocast(device, dtype=autocast_dtype, enabled=autocast):
            y = temporal_attention(*inputs, *ctx.options)[1]
        wanted = [tensor for tensor in inputs if tensor is not None and tensor.requires_grad]
        grads = iter(torch.autograd.grad(y, wanted, grad_y, allow_unused=True))
        return (*(next(grads) if tensor is not None and tensor.requires_grad else None for tensor in inputs),
                None, None)


def temporal_attention_recompute(y_traj: torch.Tensor, w_q: torch.Tensor, b_q: torch.Tensor | None,
                                 w_kv: torch.Tensor, b_kv: torch.Tensor | None, project_values: bool,
                                 key_fold: bool = False) -> torch.Tensor:
    """``temporal_attention(...)[1]`` (``[B, n, D]``), recomputed in backward instead of kept (same arguments)."""
    return _RecomputedStage2.apply(y_traj, w_q, b_q, w_kv, b_kv, project_values, key_fold)
