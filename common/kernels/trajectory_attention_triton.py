"""Fused Triton kernel for stage 1 of trajectory attention (Motionformer, Patrick et al., NeurIPS 2021).

One program owns a block of queries and one frame: it streams that frame's keys in blocks with an online
(flash-attention style) softmax and writes the ``[BLOCK_M, d]`` slice of the trajectory tokens ``[n, F, d]``. Only
the per-(query, frame) log-sum-exp is kept for backward, so neither the ``n x n`` logits nor the ``(n, F, P)``
probabilities ever exist in memory. The output is stored heads-last, ``[B, n, F, heads, d]``, and returned as a
``[B, heads, n, F, d]`` view, so merging heads afterwards costs no copy. Backward recomputes the probabilities
block by block in two kernels (one over key blocks for dK/dV, one over query blocks for dQ), which keeps it free
of atomics and deterministic.

Attention dropout is applied to the per-frame softmax as in the reference; the keep mask comes from Philox
(``tl.rand``) keyed on a seed drawn from torch's generator, so backward regenerates the same mask.
Runs on CUDA tensors, or on CPU tensors under ``TRITON_INTERPRET=1`` (set before triton is imported) for tests.
"""
from __future__ import annotations

import contextlib
import os

import torch
import triton
import triton.language as tl

__all__ = ["trajectory_attention_triton"]

_LOG2E = 1.4426950408889634


@triton.jit
def _keep_mask(seed, bh, offs_m, frame, offs_n, num_frames, num_patches, dropout_p):
    """Philox keep mask of the (query, frame, key) entries; one stream per (batch, head)."""
    offsets = (offs_m[:, None] * num_frames + frame) * num_patches + offs_n[None, :]
    return tl.rand(seed + bh * 1000003, offsets) >= dropout_p


@triton.jit
def _dot(a, b, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """fp32-accumulating tile product; UPCAST works around the interpreter's wrong bfloat16 dot on CPU."""
    if UPCAST:
        product = tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    else:
        product = tl.dot(a, b, input_precision=PRECISION)
    return product


@triton.jit
def _trajectory_rows(bh, offs_m, frame, num_tokens, num_frames, num_heads):
    """Row of (query, frame) in the heads-last output layout [B, n, F, heads] (times head_dim for Out)."""
    return (((bh // num_heads) * num_tokens + offs_m) * num_frames + frame) * num_heads + bh % num_heads


@triton.jit
def _forward_kernel(
    Q, K, V, Out, LSE, qk_scale, dropout_p, seed, num_tokens, num_frames, num_patches, head_dim, num_heads,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, HAS_DROPOUT: tl.constexpr,
    PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):
    block_m = tl.program_id(0)
    frame = tl.program_id(1)
    bh = tl.program_id(2).to(tl.int64)
    offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    row_valid = offs_m < num_tokens
    d_valid = offs_d < head_dim
    qkv_base = bh * num_tokens * head_dim
    q = tl.load(Q + qkv_base + offs_m[:, None] * head_dim + offs_d[None, :],
                mask=row_valid[:, None] & d_valid[None, :], other=0.0)
    row_max = tl.full([BLOCK_M], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for start_n in range(0, num_patches, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        key_valid = offs_n < num_patches
        key_rows = frame * num_patches + offs_n
        kv_mask = key_valid[:, None] & d_valid[None, :]
        k = tl.load(K + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], mask=kv_mask, other=0.0)
        v = tl.load(V + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], mask=kv_mask, other=0.0)
        # Logits in log2 units (qk_scale includes log2(e)) so the softmax uses exp2.
        logits = _dot(q, tl.trans(k), PRECISION, UPCAST) * qk_scale
        logits = tl.where(key_valid[None, :], logits, float("-inf"))
        new_max = tl.maximum(row_max, tl.max(logits, 1))
        correction = tl.exp2(row_max - new_max)
        probs = tl.exp2(logits - new_max[:, None])
        row_sum = row_sum * correction + tl.sum(probs, 1)
        if HAS_DROPOUT:
            keep = _keep_mask(seed, bh, offs_m, frame, offs_n, num_frames, num_patches, dropout_p)
            probs = tl.where(keep, probs / (1.0 - dropout_p), 0.0)
        acc = acc * correction[:, None] + _dot(probs.to(v.dtype), v, PRECISION, UPCAST)
        row_max = new_max
    acc = acc / row_sum[:, None]
    out_rows = _trajectory_rows(bh, offs_m, frame, num_tokens, num_frames, num_heads)
    tl.store(Out + out_rows[:, None] * head_dim + offs_d[None, :], acc.to(Out.dtype.element_ty),
             mask=row_valid[:, None] & d_valid[None, :])
    tl.store(LSE + out_rows, row_max + tl.log2(row_sum), mask=row_valid)


@triton.jit
def _backward_dkdv_kernel(
    Q, K, V, dOut, LSE, Delta, dK, dV, qk_scale, sm_scale, dropout_p, seed, num_tokens, num_frames, num_patches,
    head_dim, num_heads, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    HAS_DROPOUT: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):
    block_n = tl.program_id(0)
    frame = tl.program_id(1)
    bh = tl.program_id(2).to(tl.int64)
    offs_n = block_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    key_valid = offs_n < num_patches
    d_valid = offs_d < head_dim
    qkv_base = bh * num_tokens * head_dim
    key_rows = frame * num_patches + offs_n
    kv_mask = key_valid[:, None] & d_valid[None, :]
    k = tl.load(K + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], mask=kv_mask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    # Every query of the clip attends to this frame's keys.
    for start_m in range(0, num_tokens, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        row_valid = offs_m < num_tokens
        q_mask = row_valid[:, None] & d_valid[None, :]
        q = tl.load(Q + qkv_base + offs_m[:, None] * head_dim + offs_d[None, :], mask=q_mask, other=0.0)
        out_rows = _trajectory_rows(bh, offs_m, frame, num_tokens, num_frames, num_heads)
        do = tl.load(dOut + out_rows[:, None] * head_dim + offs_d[None, :], mask=q_mask, other=0.0)
        lse = tl.load(LSE + out_rows, mask=row_valid, other=0.0)
        delta = tl.load(Delta + out_rows, mask=row_valid, other=0.0)
        logits = _dot(q, tl.trans(k), PRECISION, UPCAST) * qk_scale
        probs = tl.exp2(logits - lse[:, None])
        probs = tl.where(row_valid[:, None] & key_valid[None, :], probs, 0.0)
        dprobs = _dot(do, tl.trans(v), PRECISION, UPCAST)
        if HAS_DROPOUT:
            keep = _keep_mask(seed, bh, offs_m, frame, offs_n, num_frames, num_patches, dropout_p)
            dropped = tl.where(keep, probs / (1.0 - dropout_p), 0.0)
            dprobs = tl.where(keep, dprobs / (1.0 - dropout_p), 0.0)
        else:
            dropped = probs
        dv += _dot(tl.trans(dropped.to(do.dtype)), do, PRECISION, UPCAST)
        dlogits = probs * (dprobs - delta[:, None])
        dk += _dot(tl.trans(dlogits.to(q.dtype)), q, PRECISION, UPCAST)
    tl.store(dK + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], (dk * sm_scale).to(dK.dtype.element_ty),
             mask=kv_mask)
    tl.store(dV + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], dv.to(dV.dtype.element_ty), mask=kv_mask)


@triton.jit
def _backward_dq_kernel(
    Q, K, V, dOut, LSE, Delta, dQ, qk_scale, sm_scale, dropout_p, seed, num_tokens, num_frames, num_patches,
    head_dim, num_heads, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    HAS_DROPOUT: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):
    block_m = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    offs_m = block_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    row_valid = offs_m < num_tokens
    d_valid = offs_d < head_dim
    q_mask = row_valid[:, None] & d_valid[None, :]
    qkv_base = bh * num_tokens * head_dim
    q = tl.load(Q + qkv_base + offs_m[:, None] * head_dim + offs_d[None, :], mask=q_mask, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for frame in range(0, num_frames):
        out_rows = _trajectory_rows(bh, offs_m, frame, num_tokens, num_frames, num_heads)
        do = tl.load(dOut + out_rows[:, None] * head_dim + offs_d[None, :], mask=q_mask, other=0.0)
        lse = tl.load(LSE + out_rows, mask=row_valid, other=0.0)
        delta = tl.load(Delta + out_rows, mask=row_valid, other=0.0)
        for start_n in range(0, num_patches, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            key_valid = offs_n < num_patches
            key_rows = frame * num_patches + offs_n
            kv_mask = key_valid[:, None] & d_valid[None, :]
            k = tl.load(K + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], mask=kv_mask, other=0.0)
            v = tl.load(V + qkv_base + key_rows[:, None] * head_dim + offs_d[None, :], mask=kv_mask, other=0.0)
            logits = _dot(q, tl.trans(k), PRECISION, UPCAST) * qk_scale
            probs = tl.exp2(logits - lse[:, None])
            probs = tl.where(row_valid[:, None] & key_valid[None, :], probs, 0.0)
            dprobs = _dot(do, tl.trans(v), PRECISION, UPCAST)
            if HAS_DROPOUT:
                keep = _keep_mask(seed, bh, offs_m, frame, offs_n, num_frames, num_patches, dropout_p)
                dprobs = tl.where(keep, dprobs / (1.0 - dropout_p), 0.0)
            dlogits = probs * (dprobs - delta[:, None])
            dq += _dot(dlogits.to(k.dtype), k, PRECISION, UPCAST)
    tl.store(dQ + qkv_base + offs_m[:, None] * head_dim + offs_d[None, :], (dq * sm_scale).to(dQ.dtype.element_ty),
             mask=q_mask)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _launch_settings(q: torch.Tensor) -> dict:
    """Block sizes and dot precision; fp32 inputs use exact fp32 dots unless torch allows TF32 matmuls."""
    head_dim = q.shape[-1]
    block_d = max(16, triton.next_power_of_2(head_dim))
    allow_tf32 = q.is_cuda and torch.backends.cuda.matmul.allow_tf32
    precision = "ieee" if q.dtype == torch.float32 and not allow_tf32 else "tf32"  # only read for fp32 operands
    # 64 x 32 tiles fit P = 196 with one 4-key tail; keep tiles small for large head dims to bound registers.
    block_m = 64 if block_d <= 64 else 32
    upcast = _interpreting() and q.dtype == torch.bfloat16
    return {"BLOCK_M": block_m, "BLOCK_N": 32, "BLOCK_D": block_d, "PRECISION": precision, "UPCAST": upcast}


def _on_device(tensor: torch.Tensor) -> contextlib.AbstractContextManager:
    """Triton launches on torch's current CUDA device; make it the tensors' device (e.g. cuda:1)."""
    return torch.cuda.device(tensor.device) if tensor.is_cuda else contextlib.nullcontext()


class _TrajectoryAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, num_frames: int, dropout_p: float, scale: float):
        batch, heads, num_tokens, head_dim = q.shape
        num_patches = num_tokens // num_frames
        q, k, v = (t.contiguous() for t in (q, k, v))
        # Heads-last layout: the usual next step (merging heads into trajectory tokens [B, n, F, heads * d]) is
        # then a free view, and the tensor saved here is the same storage a following linear layer saves.
        out = torch.empty(batch, num_tokens, num_frames, heads, head_dim, device=q.device, dtype=q.dtype)
        lse = torch.empty(batch, num_tokens, num_frames, heads, device=q.device, dtype=torch.float32)
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item()) if dropout_p > 0 else 0
        settings = _launch_settings(q)
        grid = (triton.cdiv(num_tokens, settings["BLOCK_M"]), num_frames, batch * heads)
        with _on_device(q):
            _forward_kernel[grid](
                q, k, v, out, lse, scale * _LOG2E, dropout_p, seed, num_tokens, num_frames, num_patches, head_dim,
                heads, HAS_DROPOUT=dropout_p > 0, **settings,
            )
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.num_frames, ctx.dropout_p, ctx.scale, ctx.seed = num_frames, dropout_p, scale, seed
        return out.permute(0, 3, 1, 2, 4)  # [B, h, n, F, d], a view

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        batch, heads, num_tokens, head_dim = q.shape
        num_frames = ctx.num_frames
        num_patches = num_tokens // num_frames
        grad_out = grad_out.permute(0, 2, 3, 1, 4).contiguous()  # [B, n, F, h, d] like out (free if it already is)
        # delta = rowsum(dO * O) per (query, frame); it equals sum_j P_ij dP_ij even with dropout.
        delta = (grad_out.float() * out.float()).sum(-1)  # [B, n, F, h]
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        settings = _launch_settings(q)
        common_args = (ctx.scale * _LOG2E, ctx.scale, ctx.dropout_p, ctx.seed, num_tokens, num_frames, num_patches,
                       head_dim, heads)
        grid_kv = (triton.cdiv(num_patches, settings["BLOCK_N"]), num_frames, batch * heads)
        grid_q = (triton.cdiv(num_tokens, settings["BLOCK_M"]), batch * heads)
        with _on_device(q):
            _backward_dkdv_kernel[grid_kv](
                q, k, v, grad_out, lse, delta, dk, dv, *common_args, HAS_DROPOUT=ctx.dropout_p > 0, **settings,
            )
            _backward_dq_kernel[grid_q](
                q, k, v, grad_out, lse, delta, dq, *common_args, HAS_DROPOUT=ctx.dropout_p > 0, **settings,
            )
        return dq, dk, dv, None, None, None


def trajectory_attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_frames: int,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """Fused stage 1: ``[B, heads, n, d]`` inputs -> trajectory tokens ``[B, heads, n, F, d]`` (differentiable)."""
    if not q.is_cuda and not _interpreting():
        raise RuntimeError(
            "the triton trajectory-attention backend needs CUDA tensors (or TRITON_INTERPRET=1 set before triton is "
            "imported, for CPU testing); use backend='sdpa' on CPU"
        )
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise TypeError(f"the triton trajectory-attention backend takes float16, bfloat16 or float32; got {q.dtype}")
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    return _TrajectoryAttentionFunction.apply(q, k, v, num_frames, float(dropout_p), scale)
