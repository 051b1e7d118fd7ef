"""Motionformer: video transformers with joint, divided and trajectory attention.

Paper: Patrick, Campbell, Asano, Misra, Metze, Feichtenhofer, Vedaldi, Henriques. "Keeping Your Eye on the Ball:
Trajectory Attention in Video Transformers". NeurIPS 2021. https://arxiv.org/abs/2106.05392
Reference code: https://github.com/facebookresearch/Motionformer (a PySlowFast fork).

    @inproceedings{patrick2021keeping,
      title={Keeping Your Eye on the Ball: Trajectory Attention in Video Transformers},
      author={Patrick, Mandela and Campbell, Dylan and Asano, Yuki M. and Misra, Ishan and Metze, Florian and
              Feichtenhofer, Christoph and Vedaldi, Andrea and Henriques, Jo{\\~a}o F.},
      booktitle={Advances in Neural Information Processing Systems}, year={2021}}

A ViT-B/16 on 2x16x16 tubelets, tokens frame-major, CLS first, separate spatial (ImageNet) and temporal tables.
Attention: ``joint`` (all tokens), ``divided`` (temporal then spatial, CLS joins every group) or ``trajectory``
(stage 1: each patch query attends to every frame separately, giving one trajectory token per frame, computed by
``common.kernels.trajectory_attention``; stage 2: attention over frames along that trajectory). The CLS token takes
one full attention row per block; patch tokens never attend to CLS.

Differences from the reference module layout (all handled by ``convert_reference_state_dict``):
* the 2-D ``patch_embed`` conv of the reference is never used in its forward; it is not built here (590,592 fewer
  parameters, no ``find_unused_parameters`` in DDP);
* the model returns logits in eval mode too (the reference applies softmax when not training);
* the released weights use the "original" stage-2 values (un-projected trajectory tokens, the typo of the reference's
  PR #6). That path skips the value half of ``proj_kv`` which the reference computes and discards (same output,
  12 x 7.4 GFLOPs less at 16x224).
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.engine.checkpoint import load_checkpoint, unwrap_state_dict
from common.kernels.trajectory_attention import BACKENDS, trajectory_attention
from common.kernels.trajectory_stage2 import temporal_attention, temporal_attention_recompute
from common.variants import HALF_MEAN, HALF_STD, Variant, lookup, variant_table

__all__ = [
    "Motionformer", "TrajectoryAttention", "JointAttention", "DividedAttention", "VARIANTS", "build_model",
    "convert_reference_state_dict", "load_imagenet_vit", "load_reference_checkpoint",
]

# One vocabulary for the model, the kernels and ``--attn-backend``: ``math`` (explicit softmax, the reference's
# computation), ``sdpa`` (fused kernels of ``scaled_dot_product_attention``) and ``triton`` (the fused stage-1
# kernel of trajectory attention; joint / divided attention and the CLS rows use SDPA then).
ATTN_BACKENDS = BACKENDS


# ----------------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------------
class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample, rescale the kept ones by 1 / keep_prob."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep_prob = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep_prob)
        return x * mask / keep_prob

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


class TubeletEmbed(nn.Module):
    """Non-overlapping ``tubelet x patch x patch`` 3-D convolution (the reference's ``patch_embed_3d``)."""

    def __init__(self, dim: int, tubelet_size: int, patch_size: int) -> None:
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(3, dim, kernel, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # [B, D, T', gh, gw]


class Mlp(nn.Module):
    """Linear -> GELU -> dropout -> Linear -> dropout."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: str, dropout_p: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over the last two dims; SDPA (fused kernels on GPU) or the explicit math."""
    if backend != "math":
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    attn = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)
    return F.dropout(attn, p=dropout_p, training=dropout_p > 0) @ v


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) for the ``attention_maps`` methods (never used in the forward)."""
    return (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)


def split_qkv(qkv: torch.Tensor, num_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[B, N, 3*D] laid out [q | k | v], each head-contiguous -> three [B, heads, N, d]."""
    batch, tokens, _ = qkv.shape
    qkv = qkv.view(batch, tokens, 3, num_heads, -1).permute(2, 0, 3, 1, 4)  # [3, B, h, N, d]
    return qkv[0], qkv[1], qkv[2]


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, heads, N, d] -> [B, N, heads*d]."""
    batch, heads, tokens, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * head_dim)  # [B, N, D]


def orthogonal_landmarks(queries: torch.Tensor, num_landmarks: int,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Orthoformer landmarks: greedily pick the queries least similar (max |cosine|) to those already picked.

    ``queries``: ``[S, n, d]``. The first landmark is a uniformly random query; the landmarks are returned in token
    order (as the reference does), ``[S, L, d]``. Keys play no part in the choice.
    """
    slices, tokens, head_dim = queries.shape
    if not 0 < num_landmarks <= tokens:
        raise ValueError(f"orthoformer needs 1 <= num_landmarks <= {tokens} tokens, got {num_landmarks}")
    unit = F.normalize(queries, p=2, dim=-1)
    rows = torch.arange(slices, device=queries.device)
    chosen = torch.randint(tokens, (slices,), generator=generator, device=generator.device if generator else None)
    chosen = chosen.to(queries.device)
    selected = torch.zeros(slices, tokens, dtype=torch.bool, device=queries.device)
    selected[rows, chosen] = True
    # Running max over the chosen set of |cos| to every candidate: the next landmark minimises it.
    max_cosine = torch.zeros(slices, tokens, dtype=queries.dtype, device=queries.device)
    for _ in range(1, num_landmarks):
        cosine = torch.einsum("snd,sd->sn", unit, unit[rows, chosen]).abs()  # [S, n]
        max_cosine = torch.maximum(max_cosine, cosine).masked_fill(selected, float("inf"))
        chosen = max_cosine.argmin(dim=-1)
        selected[rows, chosen] = True
    return queries[selected].view(slices, num_landmarks, head_dim)  # [S, L, d]


def orthoformer_trajectory(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_frames: int, num_landmarks: int,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Stage 1 approximated through ``num_landmarks`` orthogonal query landmarks shared by all frames.

    ``q, k, v``: ``[B, heads, n, d]`` (n frame-major). Returns trajectory tokens ``[B, heads, n, F, d]``.
    """
    batch, heads, tokens, head_dim = q.shape
    patches = tokens // num_frames
    q = q.reshape(batch * heads, tokens, head_dim) * head_dim**-0.25  # [S, n, d]
    k = k.reshape(batch * heads, tokens, head_dim) * head_dim**-0.25  # [S, n, d]
    v = v.reshape(batch * heads, num_frames, patches, head_dim)  # [S, F, P, d]
    with torch.no_grad():
        landmarks = orthogonal_landmarks(q, num_landmarks, generator)  # [S, L, d]
    query_to_landmark = (q @ landmarks.transpose(-1, -2)).softmax(dim=-1)  # [S, n, L]
    landmark_to_key = (landmarks @ k.transpose(-1, -2)).view(batch * heads, num_landmarks, num_frames, patches)
    landmark_to_key = landmark_to_key.softmax(dim=-1)  # [S, L, F, P]
    landmark_values = torch.einsum("slfp,sfpd->slfd", landmark_to_key, v)  # [S, L, F, d]
    out = torch.einsum("snl,slfd->snfd", query_to_landmark, landmark_values)  # [S, n, F, d]
    return out.view(batch, heads, tokens, num_frames, head_dim)  # [B, h, n, F, d]


class JointAttention(nn.Module):
    """Multi-head self-attention over all space-time tokens, CLS included."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, backend: str = "sdpa") -> None:
        super().__init__()
        self.num_heads, self.attn_drop, self.backend = num_heads, attn_drop, backend
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        q, k, v = split_qkv(self.qkv(x), self.num_heads)  # each [B, h, N, d]
        out = attend(q, k, v, self.backend, self.attn_drop if self.training else 0.0)  # [B, h, N, d]
        return self.proj_drop(self.proj(merge_heads(out)))

    def attention_maps(self, x: torch.Tensor, num_frames: int) -> dict[str, torch.Tensor]:
        """``joint``: the attention probabilities ``[B, h, N, N]``."""
        q, k, _ = split_qkv(self.qkv(x), self.num_heads)  # each [B, h, N, d]
        return {"joint": attention_weights(q, k)}


class DividedAttention(nn.Module):
    """One half of divided space-time attention (lucidrains-TimeSformer style, as in the reference).

    CLS attends to all tokens; patch tokens are grouped along ``axis`` ("time": the F tokens of one spatial
    position; "space": the P tokens of one frame) and each group attends to its members plus the CLS key/value.
    The reference applies no attention dropout here.
    """

    def __init__(self, dim: int, num_heads: int, axis: str, qkv_bias: bool = True, proj_drop: float = 0.0,
                 backend: str = "sdpa") -> None:
        super().__init__()
        if axis not in ("time", "space"):
            raise ValueError(f"axis must be 'time' or 'space', got {axis!r}")
        self.num_heads, self.axis, self.backend = num_heads, axis, backend
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _group(self, t: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Patch tokens [B, h, F*P, d] -> groups [B, h, groups, members, d]."""
        batch, heads, tokens, head_dim = t.shape
        t = t.view(batch, heads, num_frames, tokens // num_frames, head_dim)  # [B, h, F, P, d]
        return t.transpose(2, 3) if self.axis == "time" else t  # [B, h, P, F, d] or [B, h, F, P, d]

    def _groups(self, x: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, ...]:
        """q, k, v of all tokens ``[B, h, N, d]`` and the grouped patch queries ``[B, h, G, M, d]``, keys and values
        ``[B, h, G, M+1, d]`` (the CLS key / value first in every group)."""
        q, k, v = split_qkv(self.qkv(x), self.num_heads)  # each [B, h, N, d]
        q_groups = self._group(q[:, :, 1:], num_frames)  # [B, h, G, M, d]
        groups = q_groups.shape[2]
        cls_k = k[:, :, None, :1].expand(-1, -1, groups, -1, -1)  # [B, h, G, 1, d]
        cls_v = v[:, :, None, :1].expand(-1, -1, groups, -1, -1)  # [B, h, G, 1, d]
        k_groups = torch.cat([cls_k, self._group(k[:, :, 1:], num_frames)], dim=3)  # [B, h, G, M+1, d]
        v_groups = torch.cat([cls_v, self._group(v[:, :, 1:], num_frames)], dim=3)  # [B, h, G, M+1, d]
        return q, k, v, q_groups, k_groups, v_groups

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        batch = x.shape[0]
        q, k, v, q_groups, k_groups, v_groups = self._groups(x, num_frames)
        cls_out = attend(q[:, :, :1], k, v, self.backend)  # [B, h, 1, d]
        groups, members = q_groups.shape[2:4]
        shape_4d = (batch, self.num_heads * groups, -1, q.shape[-1])  # SDPA's fused kernels want 4-D inputs
        out = attend(q_groups.reshape(shape_4d), k_groups.reshape(shape_4d), v_groups.reshape(shape_4d),
                     self.backend)  # [B, h*G, M, d]
        out = out.view(batch, self.num_heads, groups, members, -1)  # [B, h, G, M, d]
        if self.axis == "time":
            out = out.transpose(2, 3)  # [B, h, F, P, d]
        out = torch.cat([cls_out, out.reshape(batch, self.num_heads, groups * members, -1)], dim=2)  # [B, h, N, d]
        return self.proj_drop(self.proj(merge_heads(out)))

    def attention_maps(self, x: torch.Tensor, num_frames: int) -> dict[str, torch.Tensor]:
        """``<axis>_cls``: the CLS row ``[B, h, N]``; ``<axis>_groups``: ``[B, h, G, M, M+1]`` (CLS key first)."""
        q, k, _, q_groups, k_groups, _ = self._groups(x, num_frames)
        return {f"{self.axis}_cls": attention_weights(q[:, :, :1], k)[:, :, 0],  # [B, h, N]
                f"{self.axis}_groups": attention_weights(q_groups, k_groups)}  # [B, h, G, M, M+1]


class TrajectoryAttention(nn.Module):
    """Trajectory attention (Sec. 3.2 of the paper) for CLS + frame-major patch tokens.

    With patch query ``st`` (position s, frame t) and the keys and values of frame t' (positions s'), the names below
    follow the paper's equations:

    * stage 1, the trajectory: ``y~_stt' = sum_s' softmax_s'(<q_st, k_s't'>) v_s't'``, one token per frame t';
    * stage 2, attention along it: ``q~_st = y~_stt W_q~``, ``k~_stt' = y~_stt' W_k~``, ``v~_stt' = y~_stt' W_v~``,
      ``y_st = sum_t' softmax_t'(<q~_st, k~_stt'>) v~_stt'``.

    ``W_q~`` is ``proj_q``; ``W_k~`` and ``W_v~`` are the two halves of ``proj_kv``. The CLS token takes one full
    attention row. ``original=True`` reproduces the reference default that the released weights were trained with:
    ``v~`` are the un-projected trajectory tokens ``y~`` (``W_v~`` unused, and not computed here); ``original=False`` is
    the paper's formulation. ``approx="orthoformer"`` replaces stage 1 by the Orthoformer approximation.
    Stage 2 runs in ``common.kernels.trajectory_stage2``: ``stage2_recompute`` recomputes it in backward instead of
    keeping its tensors; ``stage2_key_fold`` folds ``W_k~`` into the queries (fewer FLOPs); same outputs.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, original: bool = True, backend: str = "sdpa", approx: str = "none",
                 num_landmarks: int = 128, stage2_recompute: bool = False, stage2_key_fold: bool = False) -> None:
        super().__init__()
        if approx not in ("none", "orthoformer"):
            raise ValueError(f"approx must be 'none' or 'orthoformer' (Nystrom/Performer are not provided), "
                             f"got {approx!r}")
        self.num_heads, self.attn_drop, self.backend = num_heads, attn_drop, backend
        self.original, self.approx, self.num_landmarks = original, approx, num_landmarks
        self.stage2_recompute, self.stage2_key_fold = stage2_recompute, stage2_key_fold
        self.landmark_generator: torch.Generator | None = None  # set by Motionformer.seed_landmarks
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj_kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def trajectories(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Stage 1 on the patch tokens ``[B, h, n, d]``: ``y~_stt'`` with the heads merged, ``[B, n, F, D]``."""
        batch, heads, tokens, head_dim = q.shape
        if self.approx == "orthoformer":
            y_traj = orthoformer_trajectory(q, k, v, num_frames, self.num_landmarks, self.landmark_generator)
        else:
            y_traj = trajectory_attention(q, k, v, num_frames, backend=self.backend,
                                          dropout_p=self.attn_drop if self.training else 0.0)  # [B, h, n, F, d]
        return y_traj.permute(0, 2, 3, 1, 4)  # [B, n, F, h, d], a view of the stage-1 output (no copy)

    def _stage2_arguments(self) -> tuple:
        return (self.proj_q.weight, self.proj_q.bias, self.proj_kv.weight, self.proj_kv.bias, not self.original,
                self.stage2_key_fold)

    def temporal_attention(self, y_traj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 2 along each trajectory ``y~_stt'`` ``[B, n, F, h, d]``: the weights
        ``softmax_t'(<q~_st, k~_stt'>)`` ``[B, n, h, F]`` and the output ``y_st`` ``[B, n, D]``."""
        return temporal_attention(y_traj, *self._stage2_arguments())

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        q, k, v = split_qkv(self.qkv(x), self.num_heads)  # each [B, h, N, d]
        cls_out = attend(q[:, :, :1], k, v, self.backend)  # [B, h, 1, d]
        y_traj = self.trajectories(q[:, :, 1:], k[:, :, 1:], v[:, :, 1:], num_frames)  # [B, n, F, h, d]
        if self.stage2_recompute and torch.is_grad_enabled() and not torch.jit.is_tracing():
            y = temporal_attention_recompute(y_traj, *self._stage2_arguments())  # [B, n, D]; fvcore: plain form
        else:
            _, y = self.temporal_attention(y_traj)  # [B, n, D]
        out = torch.cat([merge_heads(cls_out), y], dim=1)  # [B, N, D]
        return self.proj_drop(self.proj(out))

    def attention_maps(self, x: torch.Tensor, num_frames: int) -> dict[str, torch.Tensor]:
        """``cls``: the CLS row ``[B, h, N]``; ``spatial``: stage 1, a softmax per frame ``[B, h, n, F, P]``;
        ``temporal``: stage 2 ``[B, h, n, F]``."""
        q, k, v = split_qkv(self.qkv(x), self.num_heads)  # each [B, h, N, d]
        q_p, k_p = q[:, :, 1:], k[:, :, 1:]  # patch tokens, [B, h, n, d]
        batch, heads, tokens, head_dim = q_p.shape
        logits = (q_p @ k_p.transpose(-2, -1)) * head_dim**-0.5  # [B, h, n, n]
        spatial = logits.view(batch, heads, tokens, num_frames, tokens // num_frames).softmax(-1)  # [B, h, n, F, P]
        weights, _ = self.temporal_attention(self.trajectories(q_p, k_p, v[:, :, 1:], num_frames))  # [B, n, h, F]
        return {"cls": attention_weights(q[:, :, :1], k)[:, :, 0],  # [B, h, N]
                "spatial": spatial, "temporal": weights.permute(0, 2, 1, 3)}  # [B, h, n, F]


class Block(nn.Module):
    """Pre-norm transformer block for joint and trajectory attention (one DropPath for both branches)."""

    def __init__(self, attention: nn.Module, dim: int, mlp_ratio: float, drop: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = attention
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), num_frames))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def attention_maps(self, x: torch.Tensor, num_frames: int) -> dict[str, torch.Tensor]:
        return self.attn.attention_maps(self.norm1(x), num_frames)


class DividedBlock(nn.Module):
    """Temporal attention (no DropPath, as in the reference), then spatial attention, then the MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, drop: float, drop_path: float,
                 backend: str) -> None:
        super().__init__()
        self.temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_attn = DividedAttention(dim, num_heads, "time", qkv_bias, drop, backend)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = DividedAttention(dim, num_heads, "space", qkv_bias, drop, backend)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        x = x + self.temporal_attn(self.temporal_norm(x), num_frames)
        x = x + self.drop_path(self.attn(self.norm1(x), num_frames))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def attention_maps(self, x: torch.Tensor, num_frames: int) -> dict[str, torch.Tensor]:
        """The temporal half's maps, then the spatial half's on the tokens the temporal half updated."""
        maps = self.temporal_attn.attention_maps(self.temporal_norm(x), num_frames)
        x = x + self.temporal_attn(self.temporal_norm(x), num_frames)
        return {**maps, **self.attn.attention_maps(self.norm1(x), num_frames)}


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------
class Motionformer(nn.Module):
    """Video ViT with ``joint``, ``divided`` or ``trajectory`` attention on tubelet tokens.

    Input ``[B, 3, T, H, W]`` (normalised with mean = std = 0.5 for the released weights); output logits
    ``[B, num_classes]``, or ``{"verb": ..., "noun": ...}`` when ``num_classes`` is a pair (EPIC-Kitchens).
    The position tables are sized for ``num_frames`` x ``pretrain_img_size`` and interpolated on the fly for other
    clip lengths (linear in time) and crop sizes (bicubic in space, like the reference's 336 models).
    :meth:`attention_maps` returns one block's attention probabilities for visualisation.

    Args:
        num_classes: classifier size, or a (verb, noun) pair for the two EPIC-Kitchens heads.
        attention: ``joint`` (all tokens), ``divided`` (temporal then spatial) or ``trajectory``.
        num_frames: clip length T the temporal table is built for; the tubelets give ``T / tubelet_size`` token frames.
        img_size: crop side the model is defined at (the variant's input size; kept for counting and parity tools).
        pretrain_img_size: crop side of the spatial table (224: the ImageNet ViT's), interpolated for other sizes.
        patch_size, tubelet_size: the tubelet is ``tubelet_size x patch_size x patch_size`` pixels.
        embed_dim, depth, num_heads, mlp_ratio: ViT width, number of blocks, heads, MLP hidden / width.
        qkv_bias: biases in the q/k/v (and trajectory ``proj_q`` / ``proj_kv``) projections.
        drop_rate: dropout after the position embedding, the attention output projections and in the MLPs.
        attn_drop_rate: dropout on the attention probabilities (joint attention and trajectory stage 1).
        drop_path_rate: stochastic depth of the last block, linearly from 0 at the first.
        head_drop_rate: dropout before the classifier.
        original_traj_attn: stage-2 values as the reference code computes them (the released weights need it);
            False gives the paper's formulation (see :class:`TrajectoryAttention`).
        attn_backend: ``math``, ``sdpa`` or ``triton`` (``ATTN_BACKENDS``, the kernels' vocabulary).
        approx: ``none`` or ``orthoformer`` (stage 1 through ``num_landmarks`` orthogonal query landmarks).
        num_landmarks: Orthoformer landmarks per head.
        pos_embed_type: ``separate`` spatial + temporal tables (every config) or one ``joint`` space-time table.
        stage2_recompute: recompute trajectory stage 2 in backward instead of keeping its activations (less
            memory, one more stage-2 forward per training step; same results).
        stage2_key_fold: fold ``W_k~`` into the stage-2 queries (about 7x fewer stage-2 FLOPs, a different fvcore
            count; same function up to rounding). See ``common.kernels.trajectory_stage2``.
    """

    def __init__(self, num_classes: int | tuple[int, int] = 400, attention: str = "trajectory", num_frames: int = 16,
                 img_size: int = 224, pretrain_img_size: int = 224, patch_size: int = 16, tubelet_size: int = 2,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.2, head_drop_rate: float = 0.0, original_traj_attn: bool = True,
                 attn_backend: str = "sdpa", approx: str = "none", num_landmarks: int = 128,
                 pos_embed_type: str = "separate", stage2_recompute: bool = False,
                 stage2_key_fold: bool = False) -> None:
        super().__init__()
        if attention not in ("joint", "divided", "trajectory"):
            raise ValueError(f"attention must be 'joint', 'divided' or 'trajectory', got {attention!r}")
        if attn_backend not in ATTN_BACKENDS:
            raise ValueError(f"attn_backend must be one of {ATTN_BACKENDS}, got {attn_backend!r}")
        if pos_embed_type not in ("separate", "joint"):
            raise ValueError(f"pos_embed_type must be 'separate' or 'joint', got {pos_embed_type!r}")
        if num_frames % tubelet_size or img_size % patch_size or pretrain_img_size % patch_size:
            raise ValueError(f"num_frames={num_frames} must divide by tubelet_size={tubelet_size} and the image "
                             f"sizes {img_size}/{pretrain_img_size} by patch_size={patch_size}")
        self.attention, self.num_classes = attention, num_classes
        self.num_frames, self.img_size = num_frames, img_size
        self.patch_size, self.tubelet_size = patch_size, tubelet_size
        self.embed_dim, self.depth, self.num_heads, self.mlp_ratio = embed_dim, depth, num_heads, mlp_ratio
        self.original_traj_attn, self.approx, self.num_landmarks = original_traj_attn, approx, num_landmarks
        self.stage2_key_fold = stage2_key_fold
        self.pos_embed_type = pos_embed_type
        self.pos_grid = pretrain_img_size // patch_size
        token_frames, grid_patches = num_frames // tubelet_size, self.pos_grid**2

        self.patch_embed = TubeletEmbed(embed_dim, tubelet_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if pos_embed_type == "separate":
            self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid_patches, embed_dim))
            self.temp_embed = nn.Parameter(torch.zeros(1, token_frames, embed_dim))
        else:
            self.st_embed = nn.Parameter(torch.zeros(1, 1 + token_frames * grid_patches, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)

        drop_path = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # linear, block 0 has none
        blocks = []
        for i in range(depth):
            if attention == "divided":
                blocks.append(DividedBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_rate, drop_path[i],
                                           attn_backend))
                continue
            if attention == "joint":
                attn = JointAttention(embed_dim, num_heads, qkv_bias, attn_drop_rate, drop_rate, attn_backend)
            else:
                attn = TrajectoryAttention(embed_dim, num_heads, qkv_bias, attn_drop_rate, drop_rate,
                                           original_traj_attn, attn_backend, approx, num_landmarks,
                                           stage2_recompute, stage2_key_fold)
            blocks.append(Block(attn, embed_dim, mlp_ratio, drop_rate, drop_path[i]))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.pre_logits = nn.Sequential()
        self.pre_logits.add_module("fc", nn.Linear(embed_dim, embed_dim))
        self.pre_logits.add_module("act", nn.Tanh())
        self.head_drop = nn.Dropout(head_drop_rate)
        if isinstance(num_classes, (tuple, list)):
            verbs, nouns = num_classes
            self.head_verb, self.head_noun = nn.Linear(embed_dim, verbs), nn.Linear(embed_dim, nouns)
        else:
            self.head = nn.Linear(embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Reference order: tables N(0, 0.02), temporal table and tubelet kernel zero, Linear/LayerNorm re-init."""
        for table in (self.cls_token, getattr(self, "pos_embed", None), getattr(self, "st_embed", None)):
            if table is not None:
                nn.init.trunc_normal_(table, std=0.02, a=-2.0, b=2.0)
        nn.init.zeros_(self.patch_embed.proj.weight)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02, a=-2.0, b=2.0)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def seed_landmarks(self, seed: int | None) -> None:
        """Make the Orthoformer's random first landmark reproducible (None: global RNG, like the reference)."""
        for module in self.modules():
            if isinstance(module, TrajectoryAttention):
                module.landmark_generator = None if seed is None else torch.Generator().manual_seed(seed)

    def position_embedding(self, token_frames: int, grid: tuple[int, int]) -> torch.Tensor:
        """The table added to CLS + patch tokens, ``[1, 1 + T' * gh * gw, D]``, resized to the input if needed."""
        dim, table_grid = self.embed_dim, (self.pos_grid, self.pos_grid)
        if self.pos_embed_type == "joint":
            cls, table = self.st_embed[:, :1], self.st_embed[:, 1:]
            table_frames = table.shape[1] // (self.pos_grid**2)
            if (token_frames, *grid) != (table_frames, *table_grid):
                volume = table.reshape(1, table_frames, *table_grid, dim).permute(0, 4, 1, 2, 3)  # [1, D, T, h, w]
                volume = F.interpolate(volume, size=(token_frames, *grid), mode="trilinear", align_corners=False)
                table = volume.permute(0, 2, 3, 4, 1).reshape(1, -1, dim)  # [1, T'*P, D]
            return torch.cat([cls, table], dim=1)
        cls, spatial = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        if grid != table_grid:
            spatial = spatial.reshape(1, *table_grid, dim).permute(0, 3, 1, 2)  # [1, D, h, w]
            spatial = F.interpolate(spatial, size=grid, mode="bicubic", align_corners=False)
            spatial = spatial.permute(0, 2, 3, 1).reshape(1, -1, dim)  # [1, P, D]
        temporal = self.temp_embed
        if temporal.shape[1] != token_frames:
            temporal = F.interpolate(temporal.transpose(1, 2), size=token_frames, mode="linear", align_corners=False)
            temporal = temporal.transpose(1, 2)  # [1, T', D]
        table = (temporal[:, :, None] + spatial[:, None]).reshape(1, -1, dim)  # [1, T'*P, D], frame-major
        return torch.cat([cls, table], dim=1)

    def tokenize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Clip ``[B, 3, T, H, W]`` -> CLS + patch tokens with position embedding ``[B, N, D]``, and (T', gh, gw)."""
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"Motionformer expects a clip [B, 3, T, H, W], got shape {tuple(x.shape)}")
        _, _, frames, height, width = x.shape
        if frames % self.tubelet_size or height % self.patch_size or width % self.patch_size:
            raise ValueError(f"clip {tuple(x.shape)}: T must divide by {self.tubelet_size} and H, W by "
                             f"{self.patch_size}")
        tokens = self.patch_embed(x)  # [B, D, T', gh, gw]
        token_frames, grid = tokens.shape[2], tuple(tokens.shape[3:])
        tokens = tokens.flatten(2).transpose(1, 2)  # [B, T'*gh*gw, D], frame-major
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)  # [B, N, D]
        return self.pos_drop(tokens + self.position_embedding(token_frames, grid)), (token_frames, *grid)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-logits feature ``[B, D]`` (final LayerNorm of CLS, Linear, tanh)."""
        x, (token_frames, _, _) = self.tokenize(x)
        for block in self.blocks:
            x = block(x, token_frames)
        return self.pre_logits(self.norm(x[:, 0]))  # LayerNorm is per token: CLS alone gives the same result

    def forward_head(self, features: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        features = self.head_drop(features)
        if hasattr(self, "head"):
            return self.head(features)
        return {"verb": self.head_verb(features), "noun": self.head_noun(features)}

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        return self.forward_head(self.forward_features(x))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor, block_index: int = -1) -> dict[str, torch.Tensor]:
        """Attention probabilities of one block (explicit math, eval-mode semantics), keyed by kind.

        trajectory: ``cls [B, h, N]``, ``spatial [B, h, n, F, P]`` (stage 1, per-frame softmax),
        ``temporal [B, h, n, F]`` (stage 2); joint: ``joint [B, h, N, N]``; divided: ``time_cls``/``space_cls``
        ``[B, h, N]`` and ``time_groups``/``space_groups`` ``[B, h, groups, members, members + 1]`` (CLS key first).
        Also ``grid``: ``(T', gh, gw)`` of the patch tokens, as a long tensor.
        """
        index = block_index % self.depth
        x, grid = self.tokenize(x)
        for block in self.blocks[:index]:
            x = block(x, grid[0])
        return {**self.blocks[index].attention_maps(x, grid[0]), "grid": torch.tensor(grid)}


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints: reference .pyth conversion, ImageNet ViT initialisation
# ----------------------------------------------------------------------------------------------------------------
_REFERENCE_RENAMES = (
    (re.compile(r"^patch_embed_3d\."), "patch_embed."),
    (re.compile(r"\.timeattn\."), ".temporal_attn."),
    (re.compile(r"\.norm3\."), ".temporal_norm."),
    (re.compile(r"^head0\."), "head_verb."),
    (re.compile(r"^head1\."), "head_noun."),
)


def _attention_of_state_dict(state_dict: dict[str, torch.Tensor]) -> str:
    if any(".attn.proj_q." in key for key in state_dict):
        return "trajectory"
    if any(".temporal_attn." in key for key in state_dict):
        return "divided"
    return "joint"


def _rename_reference_keys(state_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
    if "model_state" in state_dict:
        state_dict = state_dict["model_state"]
    converted = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if key.startswith("patch_embed.proj."):
            continue
        for pattern, replacement in _REFERENCE_RENAMES:
            key = pattern.sub(replacement, key)
        converted[key] = value
    return converted


def _check_attention(state_dict: dict[str, torch.Tensor], attention: str, variant: str) -> None:
    found = _attention_of_state_dict(state_dict)
    if found != attention:
        raise ValueError(f"this checkpoint holds a {found}-attention model but {variant!r} is built with "
                         f"{attention} attention; pick a {found} variant")


def convert_reference_state_dict(state_dict: dict[str, Any], variant: str, **overrides: Any) -> dict[str, torch.Tensor]:
    """Map a reference ``model_state`` (or the whole ``.pyth`` dict) to this model's keys for a strict load.

    Drops the reference's unused 2-D ``patch_embed.proj`` and renames ``patch_embed_3d`` -> ``patch_embed``,
    ``timeattn``/``norm3`` -> ``temporal_attn``/``temporal_norm``, ``head0``/``head1`` -> ``head_verb``/``head_noun``.
    Raises when the checkpoint's attention type is not the variant's (the reference loads it silently: issue #19).
    ``overrides``: the same keywords as :func:`build_model` (only ``attention`` changes what fits).
    """
    converted = _rename_reference_keys(state_dict)
    _check_attention(converted, _model_args(variant, None, overrides)["attention"], variant)
    return converted


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of a local checkpoint (``weights_only`` load, ``model_state``/``model``/``state_dict`` unwrapped,
    ``module.`` stripped), with a clear error when the file is missing."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist (weights are never downloaded: pass the "
                                "path of a local copy)")
    return unwrap_state_dict(load_checkpoint(path))


def load_reference_checkpoint(path: str | Path, variant: str, **overrides: Any) -> Motionformer:
    """Build ``variant`` to fit a released ``.pyth`` file (head size, temporal table, joint ``st_embed``) and load it
    strictly. ``num_frames`` / ``img_size`` overrides resize the position tables of the checkpoint."""
    converted = _rename_reference_keys(read_state_dict(path))
    _check_attention(converted, _model_args(variant, None, dict(overrides))["attention"], variant)
    if "head.weight" in converted:
        classes: int | tuple[int, int] = converted["head.weight"].shape[0]
    else:
        classes = (converted["head_verb.weight"].shape[0], converted["head_noun.weight"].shape[0])
    if "st_embed" in converted:
        overrides.setdefault("pos_embed_type", "joint")
    model = build_model(variant, overrides.pop("num_classes", classes), **overrides)
    for name in ("temp_embed", "st_embed"):
        if name in converted and converted[name].shape != getattr(model, name).shape:
            converted[name] = _resize_table(converted[name], getattr(model, name).shape, model.pos_grid**2)
    model.load_state_dict(converted, strict=True)
    return model


def _resize_table(table: torch.Tensor, shape: torch.Size, grid_patches: int) -> torch.Tensor:
    """Resize a temporal table [1, T, D] (linear) or a joint table [1, 1 + T*P, D] (per position) to ``shape``."""
    dim = table.shape[-1]
    if len(shape) == 3 and shape[1] % grid_patches == 1:  # joint table with CLS slot
        frames, new_frames = (table.shape[1] - 1) // grid_patches, (shape[1] - 1) // grid_patches
        body = table[:, 1:].reshape(1, frames, grid_patches * dim).transpose(1, 2)  # [1, P*D, T]
        body = F.interpolate(body, size=new_frames, mode="linear", align_corners=False)
        body = body.transpose(1, 2).reshape(1, new_frames * grid_patches, dim)  # [1, T*P, D]
        return torch.cat([table[:, :1], body], dim=1)
    resized = F.interpolate(table.transpose(1, 2), size=shape[1], mode="linear", align_corners=False)
    return resized.transpose(1, 2).contiguous()  # [1, T, D]


def load_imagenet_vit(model: Motionformer, path: str | Path) -> list[str]:
    """Initialise from a local timm-format ViT state dict (``jx_vit_base_p16_224-80ecf9dd.pth``) as the reference does.

    Copies every key whose name and shape match (CLS, spatial table, qkv/proj, MLP, norms; the spatial ``attn`` of
    divided blocks), then inflates the 2-D patch kernel into the *second* temporal slice of the tubelet kernel
    (first slice zero) and copies its bias. Returns the model keys left at their initial values.
    """
    source = read_state_dict(path)
    if "patch_embed.proj.weight" not in source:
        raise ValueError(f"{path}: not a timm ViT state dict (no 'patch_embed.proj.weight')")
    target = model.state_dict()
    copied = set()
    with torch.no_grad():
        for key, value in source.items():
            if key in target and not key.startswith(("patch_embed.", "head.")) and value.shape == target[key].shape:
                target[key].copy_(value)
                copied.add(key)
        kernel = source["patch_embed.proj.weight"]
        tubelet = target["patch_embed.proj.weight"]
        if kernel.shape != tubelet[:, :, 0].shape:
            raise ValueError(f"{path}: patch kernel {tuple(kernel.shape)} does not fit {tuple(tubelet.shape)}")
        tubelet.zero_()
        tubelet[:, :, tubelet.shape[2] // 2] = kernel
        target["patch_embed.proj.bias"].copy_(source["patch_embed.proj.bias"])
        copied.update({"patch_embed.proj.weight", "patch_embed.proj.bias"})
        table = source.get("pos_embed")
        if model.pos_embed_type == "joint" and table is not None and table.shape[1] == 1 + model.pos_grid**2:
            frames = (model.st_embed.shape[1] - 1) // model.pos_grid**2
            model.st_embed[:, 0] = table[:, 0]
            model.st_embed[:, 1:] = table[:, 1:].repeat(1, frames, 1)
            copied.add("st_embed")
    if not any(key.startswith("blocks.") for key in copied):
        raise ValueError(f"{path}: no transformer block weights matched this model (width/depth differ?)")
    return sorted(set(target) - copied)


# ----------------------------------------------------------------------------------------------------------------
# Variants (named after the reference configs; the dataset only changes the head, see configs.py)
# ----------------------------------------------------------------------------------------------------------------
EPIC_NOUN_CLASSES = 300
# The reference keeps an unused 2-D patch conv (590,592 parameters) that this implementation does not build.
UNUSED_REFERENCE_PARAMS = 590_592
_CONFIG_ROOT = "facebookresearch/Motionformer@bf43d50:configs/"
_NOTES = ("ours: no unused 2-D patch conv (590,592 parameters fewer); the original trajectory path skips the dead "
          "value projection (12 x 7.4 GFLOPs at 16x224), outputs unchanged. GFLOPs: fvcore count of our forward; "
          "the reference's 336 and 32-frame GFLOPs from the analytic count that reproduces its measured ones.")
# Not from the paper: a model of about 0.1 M parameters for tests and CI smoke runs.
_TINY = dict(attention="trajectory", pretrain_img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3,
             mlp_ratio=2.0, drop_path_rate=0.1, attn_backend="sdpa")


def _paper(name: str, attention: str, config: str, reference_params: int, reference_gflops: float, gflops: float,
           num_frames: int = 16, input_size: int = 224) -> Variant:
    """A reference configuration; ``ek_*`` names get the EPIC-Kitchens verb and noun heads."""
    epic = name.startswith("ek_")
    return Variant(name, arch=dict(attention=attention, attn_backend="sdpa"),
                   num_classes=(97, EPIC_NOUN_CLASSES) if epic else 400, num_frames=num_frames,
                   input_size=input_size, mean=HALF_MEAN, std=HALF_STD, reference_params=reference_params,
                   reference_gflops=reference_gflops, params=reference_params - UNUSED_REFERENCE_PARAMS,
                   gflops=gflops, source=_CONFIG_ROOT + config, notes=_NOTES)


VARIANTS: dict[str, Variant] = variant_table(
    _paper("joint_224_16x4", "joint", "K400/joint_224_16x4.yaml", 87_883_408, 180.64, 180.63),
    _paper("divided_224_16x4", "divided", "K400/divided_224_16x4.yaml", 116_250_256, 185.77, 185.76),
    _paper("motionformer_224_16x4", "trajectory", "K400/motionformer_224_16x4.yaml", 109_144_720, 369.51, 280.72),
    _paper("motionformer_336_16x4", "trajectory", "K600/motionformer_336_16x4.yaml", 109_144_720, 958.7, 758.96,
           input_size=336),
    _paper("motionformer_336_16x8", "trajectory", "K400/motionformer_336_16x8.yaml", 109_144_720, 958.7, 758.96,
           input_size=336),
    _paper("motionformer_224_32x3", "trajectory", "K400/motionformer_224_32x3.yaml", 109_150_864, 1185.2, 830.02,
           num_frames=32),
    _paper("ek_joint_224_16x4", "joint", "EK/joint_224_16x4.yaml", 87_881_101, 180.64, 180.63),
    _paper("ek_divided_224_16x4", "divided", "EK/divided_224_16x4.yaml", 116_247_949, 185.77, 185.76),
    _paper("ek_motionformer_224_16x4", "trajectory", "EK/motionformer_224_16x4.yaml", 109_142_413, 369.51, 280.72),
    _paper("ek_motionformer_336_16x4", "trajectory", "EK/motionformer_336_16x4.yaml", 109_142_413, 958.7, 758.96,
           input_size=336),
    _paper("ek_motionformer_224_32x3", "trajectory", "EK/motionformer_224_32x3.yaml", 109_148_557, 1185.2, 830.02,
           num_frames=32),
    Variant("motionformer_tiny", arch=_TINY, num_classes=10, num_frames=8, input_size=32, mean=HALF_MEAN,
            std=HALF_STD, gflops=0.006, paper=False, source="not from the paper: tests and CI"),
    Variant("ek_motionformer_tiny", arch=_TINY, num_classes=(97, EPIC_NOUN_CLASSES), num_frames=8, input_size=32,
            mean=HALF_MEAN, std=HALF_STD, paper=False,
            source="not from the paper: the two-head twin of motionformer_tiny, tests of the EPIC pipeline"),
)


def is_two_head(variant: str) -> bool:
    """Whether the variant's classifier is a (verb, noun) pair of heads (EPIC-Kitchens)."""
    return isinstance(lookup(VARIANTS, variant, "Motionformer").num_classes, tuple)


def _model_args(variant: str, num_classes: int | tuple[int, int] | None, overrides: dict[str, Any]
                ) -> dict[str, Any]:
    """``Motionformer`` keyword arguments of ``variant`` with the builder's keywords applied; unknown names raise
    ``TypeError`` listing the valid ones."""
    cfg = lookup(VARIANTS, variant, "Motionformer")
    classes = cfg.num_classes if num_classes is None else num_classes
    if isinstance(cfg.num_classes, tuple) and isinstance(classes, int):
        classes = (classes, cfg.num_classes[1])  # an int sets the verb head, nouns stay
    valid = set(inspect.signature(Motionformer).parameters) - {"num_classes"}
    unknown = set(overrides) - valid
    if unknown:
        raise TypeError(f"unknown options for {variant}: {sorted(unknown)}; valid: {sorted(valid)}")
    args = {**cfg.arch, "num_frames": cfg.num_frames, "img_size": cfg.input_size}
    args.update({key: value for key, value in overrides.items() if value is not None})
    return {"num_classes": classes, **args}


def build_model(variant: str, num_classes: int | tuple[int, int] | None = None, *, num_frames: int | None = None,
                img_size: int | None = None, original_traj_attn: bool = True, **overrides: Any) -> Motionformer:
    """A Motionformer variant with random weights (initialise with ``load_imagenet_vit`` or a checkpoint).

    Args:
        variant: a name of ``VARIANTS`` (others raise ``UnknownVariantError`` listing the valid names).
        num_classes: classifier size; for two-head (``ek_*``) variants an int sets the verb head (nouns stay 300)
            and a pair sets both. None: the variant's (400, or (97, 300) for EPIC).
        num_frames, img_size: clip length and crop the position tables are built for (inputs of other sizes are
            still accepted through interpolation). None: the variant's.
        original_traj_attn: the reference's default stage-2 values (needed by the released weights); False gives
            the paper's corrected formulation.
        overrides: any other ``Motionformer`` argument (``attn_backend``, ``approx="orthoformer"``,
            ``num_landmarks``, ``drop_path_rate``, ``pos_embed_type``, ``attention`` ...).
    """
    overrides = dict(overrides, num_frames=num_frames, img_size=img_size, original_traj_attn=original_traj_attn)
    return Motionformer(**_model_args(variant, num_classes, overrides))
