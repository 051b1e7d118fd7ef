"""CMDA (cross-pathway dual attention) and the two-pathway SlowFast-ResNet-50 built on it.

Paper: Dafeng Wei, Ye Tian, Liqing Wei, Hong Zhong, Siqian Chen, Shiliang Pu, Hongtao Lu, "Efficient dual attention
SlowFast networks for video action recognition", Computer Vision and Image Understanding 222 (2022) 103484.
Reference code: weidafeng/Efficient-SlowFast (a PySlowFast fork), commit 70a78ea; the spec of everything here is
``shared/specs/efficient_slowfast.md`` (sections 1.1-1.3 for this file).

This file holds what every model of the project shares: the slow-frame selection, the CMDA fusion, the
two-pathway stage container, the pooled classifier head and the network shell that runs stems, stages and fusions
in order. It also builds the two ResNet-50 models: ``SlowFast-R50`` with every lateral replaced by CMDA (the
"dual" model) and the fork's plain SlowFast-R50 baseline with PySlowFast's strided-conv lateral.

Citation::

    @article{wei2022efficient,
      title   = {Efficient dual attention SlowFast networks for video action recognition},
      author  = {Wei, Dafeng and Tian, Ye and Wei, Liqing and Zhong, Hong and Chen, Siqian and Pu, Shiliang and
                 Lu, Hongtao},
      journal = {Computer Vision and Image Understanding},
      volume  = {222},
      pages   = {103484},
      year    = {2022}
    }
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ATTN_BACKENDS", "CMDA", "ConvLateral", "SlowSelfAttention", "TwoPathway", "TwoPathwayHead", "TwoPathwayNet",
    "build_resnet_slowfast", "init_reference_weights", "slow_frame_indices",
]

ATTN_BACKENDS = ("sdpa", "math")


def slow_frame_indices(num_frames: int, alpha: int, device: torch.device | None = None) -> torch.Tensor:
    """Indices of the slow pathway's frames among the ``num_frames`` fast ones: ``num_frames // alpha`` points
    of ``linspace(0, T - 1)`` truncated to integers, as PySlowFast's ``pack_pathway_output`` (T=16, alpha 4:
    [0, 5, 10, 15]; T=32: [0, 4, 8, 13, 17, 22, 26, 31])."""
    return torch.linspace(0, num_frames - 1, num_frames // alpha, device=device).long()


class SlowSelfAttention(nn.Module):
    """Self-attention over every slow space-time position (a 3D DANet / SAGAN position-attention module).

    ``Q, K, V`` are 1x1x1 convs of ``y`` (full width: the reference's reduction is 1 at every call site);
    ``A = softmax_j(Q_i . K_j)`` with **no** 1/sqrt(d) scaling; ``out = gamma * (A V) + y`` with ``gamma``
    initialised to 0, so the branch starts as the identity.

    ``attn_backend="sdpa"`` computes ``A V`` with ``scaled_dot_product_attention(scale=1.0)``, which never holds
    the N x N matrix on backends with a fused kernel (CPU flash attention, CUDA flash / memory-efficient);
    ``"math"`` is the explicit softmax of the reference, kept to test against and for inspection.
    """

    def __init__(self, channels: int, attn_backend: str = "sdpa") -> None:
        super().__init__()
        if attn_backend not in ATTN_BACKENDS:
            raise ValueError(f"attn_backend must be one of {ATTN_BACKENDS}, got {attn_backend!r}")
        self.attn_backend = attn_backend
        self.query = nn.Conv3d(channels, channels, 1)
        self.key = nn.Conv3d(channels, channels, 1)
        self.value = nn.Conv3d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = y.shape
        query, key, value = (proj(y).flatten(2) for proj in (self.query, self.key, self.value))  # [B, C, N] each
        if self.attn_backend == "sdpa":
            # Fused kernels need a unit stride on the channel axis, hence the copies (O(N C), not O(N^2)).
            query, key, value = (t.transpose(1, 2).contiguous().unsqueeze(1) for t in (query, key, value))  # [B,1,N,C]
            out = F.scaled_dot_product_attention(query, key, value, scale=1.0)  # [B, 1, N, C]
            out = out.squeeze(1).transpose(1, 2)  # [B, C, N]
        else:
            attention = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # [B, N, N]: row = query position
            out = value @ attention.transpose(1, 2)  # [B, C, N]
        return self.gamma * out.reshape(batch, channels, frames, height, width) + y


class CMDA(nn.Module):
    """Cross-pathway dual attention: the fusion between the slow and the fast pathway (reference
    ``FuseFastAndSlow``), both branches computed from the pre-fusion tensors.

    Fast to slow (channel attention): temporal max-pool by ``alpha``; 3D ECA (global average pool, a k=3 Conv1d
    across channels, sigmoid gate); BN, ReLU; concatenated **after** the slow channels.
    Slow to fast (spatial attention): 1x1x1 reduction of the slow channels by ``beta_inv``; self-attention over
    all slow positions (:class:`SlowSelfAttention`); BN, ReLU; nearest temporal upsample by ``alpha``;
    concatenated **before** the fast channels.

    Output widths: slow ``Cs + Cf``, fast ``Cs // beta_inv + Cf`` (``out_channels``).
    """

    def __init__(self, slow_channels: int, fast_channels: int, alpha: int, beta_inv: int,
                 attn_backend: str = "sdpa") -> None:
        super().__init__()
        self.alpha = alpha
        reduced = slow_channels // beta_inv
        self.f2s_eca = nn.Conv1d(1, 1, kernel_size=3, padding=1, bias=False)  # PyTorch default init, as reference
        self.f2s_bn = nn.BatchNorm3d(fast_channels)
        self.s2f_reduce = nn.Conv3d(slow_channels, reduced, 1, bias=False)
        self.s2f_attention = SlowSelfAttention(reduced, attn_backend)
        self.s2f_bn = nn.BatchNorm3d(reduced)
        self.out_channels = (slow_channels + fast_channels, reduced + fast_channels)

    def fast_to_slow(self, fast: torch.Tensor) -> torch.Tensor:
        pooled = F.max_pool3d(fast, (self.alpha, 1, 1), (self.alpha, 1, 1))  # [B, Cf, T/a, H, W]
        gate = pooled.mean((2, 3, 4)).unsqueeze(1)  # [B, 1, Cf]: channels as a 1-D sequence
        gate = torch.sigmoid(self.f2s_eca(gate)).transpose(1, 2)  # [B, Cf, 1]
        return F.relu(self.f2s_bn(pooled * gate.unsqueeze(-1).unsqueeze(-1)), inplace=True)  # [B, Cf, T/a, H, W]

    def slow_to_fast(self, slow: torch.Tensor) -> torch.Tensor:
        attended = self.s2f_bn(self.s2f_attention(self.s2f_reduce(slow)))  # [B, Cs/b, T/a, H, W]
        attended = F.relu(attended, inplace=True)
        return attended.repeat_interleave(self.alpha, dim=2)  # [B, Cs/b, T, H, W]: nearest upsample in time

    def forward(self, pathways: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = pathways
        return [torch.cat([slow, self.fast_to_slow(fast)], 1), torch.cat([self.slow_to_fast(slow), fast], 1)]


class ConvLateral(nn.Module):
    """PySlowFast's fast-to-slow lateral (``FuseFastToSlow``) of the plain SlowFast baseline: a ``k x 1 x 1``
    conv with temporal stride ``alpha`` from ``Cf`` to ``ratio * Cf`` channels, BN, ReLU, concatenated after the
    slow channels; the fast pathway passes unchanged."""

    def __init__(self, fast_channels: int, ratio: int, kernel: int, alpha: int) -> None:
        super().__init__()
        self.conv_f2s = nn.Conv3d(fast_channels, fast_channels * ratio, (kernel, 1, 1), stride=(alpha, 1, 1),
                                  padding=(kernel // 2, 0, 0), bias=False)
        self.bn = nn.BatchNorm3d(fast_channels * ratio)

    def forward(self, pathways: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = pathways
        return [torch.cat([slow, F.relu(self.bn(self.conv_f2s(fast)), inplace=True)], 1), fast]


class TwoPathway(nn.Module):
    """One stem or stage: an independent module per pathway (``pathway0`` slow, ``pathway1`` fast)."""

    def __init__(self, slow: nn.Module, fast: nn.Module) -> None:
        super().__init__()
        self.pathway0 = slow
        self.pathway1 = fast

    def forward(self, pathways: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [self.pathway0(pathways[0]), self.pathway1(pathways[1])]


class TwoPathwayHead(nn.Module):
    """Per pathway: an optional block (``pathway{p}``: 1x1x1 conv, BN, activation), global average pooling, an
    optional 1x1x1 projection with bias followed by ReLU (``pathway{p}_proj``, GhostNet); then concatenation,
    dropout and ``fc``. Returns logits; the reference's eval activation (softmax, or ReLU for GhostNet) is a
    test-time choice (``test.py``), not part of the model."""

    def __init__(self, features: Sequence[int], num_classes: int, dropout: float,
                 blocks: Sequence[nn.Module] | None = None, projections: Sequence[nn.Module] | None = None) -> None:
        super().__init__()
        self.has_blocks = blocks is not None
        self.has_projections = projections is not None
        for p, block in enumerate(blocks or ()):
            self.add_module(f"pathway{p}", block)
        for p, projection in enumerate(projections or ()):
            self.add_module(f"pathway{p}_proj", projection)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(sum(features), num_classes)

    def pool(self, pathways: Sequence[torch.Tensor]) -> torch.Tensor:
        """The concatenated pooled features, ``[B, sum(features)]``."""
        pooled = []
        for p, x in enumerate(pathways):
            if self.has_blocks:
                x = getattr(self, f"pathway{p}")(x)
            x = x.mean((2, 3, 4), keepdim=True)  # [B, C_p, 1, 1, 1]
            if self.has_projections:
                x = F.relu(getattr(self, f"pathway{p}_proj")(x))
            pooled.append(x.flatten(1))  # [B, C_p]
        return torch.cat(pooled, 1)

    def forward(self, pathways: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.dropout(self.pool(pathways)))


class TwoPathwayNet(nn.Module):
    """A two-pathway network: stems, stages and fusions run in registration order (``body_names``), then the
    head. Module names are the reference's (``s1``, ``s1_fuse``, ``s2``, ...; GhostNet starts at ``s0``), so
    Grad-CAM target layers read the same.

    ``forward(x)``: ``x`` float ``[B, 3, T, H, W]`` normalised (mean 0.45, std 0.225) -> logits ``[B, K]``; the
    slow pathway is ``x`` at :func:`slow_frame_indices`, the fast pathway is all of ``x``.
    ``forward_features(x)``: the ``[slow, fast]`` feature maps before the head.
    """

    def __init__(self, body: Sequence[tuple[str, nn.Module]], head: TwoPathwayHead, alpha: int) -> None:
        super().__init__()
        self.alpha = alpha
        for name, module in body:
            self.add_module(name, module)
        self.body_names = tuple(name for name, _ in body)
        self.head = head

    def pathways(self, clips: torch.Tensor) -> list[torch.Tensor]:
        frames = clips.shape[2]
        if frames % self.alpha or frames < self.alpha:
            raise ValueError(f"a clip of {frames} frames does not split into pathways with alpha={self.alpha}: "
                             f"the frame count must be a positive multiple of alpha")
        slow = clips.index_select(2, slow_frame_indices(frames, self.alpha, clips.device))  # [B, 3, T/a, H, W]
        return [slow, clips]

    def forward_features(self, clips: torch.Tensor) -> list[torch.Tensor]:
        pathways = self.pathways(clips)
        for name in self.body_names:
            pathways = getattr(self, name)(pathways)
        return pathways

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(clips))


def init_reference_weights(model: nn.Module, fc_std: float = 0.01) -> None:
    """PySlowFast's ``init_weights``, which the fork applies to every model: Conv3d Kaiming-normal (fan-out) with
    zero bias, BatchNorm3d (1, 0) with the last BN of each ResNet bottleneck at 0, Linear N(0, fc_std^2) with
    zero bias. The ECA Conv1d keeps PyTorch's default, as in the reference."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, fc_std)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, BottleneckTransform):
            nn.init.zeros_(module.c_bn.weight)


# --------------------------------------------------------------------------------------------------------------
# ResNet-50 SlowFast (dual attention and the plain baseline)
# --------------------------------------------------------------------------------------------------------------

class ResNetStem(nn.Module):
    """``kt x 7 x 7`` conv with spatial stride 2, BN, ReLU, ``1 x 3 x 3`` max-pool with spatial stride 2."""

    def __init__(self, out_channels: int, temporal_kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, out_channels, (temporal_kernel, 7, 7), stride=(1, 2, 2),
                              padding=(temporal_kernel // 2, 3, 3), bias=False)
        self.bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(F.relu(self.bn(self.conv(x)), inplace=True), (1, 3, 3), (1, 2, 2), (0, 1, 1))


class BottleneckTransform(nn.Module):
    """``kt x 1 x 1`` (a), ``1 x 3 x 3`` carrying the spatial stride (b), ``1 x 1 x 1`` (c), each with BN; ReLU
    after a and b."""

    def __init__(self, in_channels: int, out_channels: int, inner: int, temporal_kernel: int, stride: int) -> None:
        super().__init__()
        self.a = nn.Conv3d(in_channels, inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0),
                           bias=False)
        self.a_bn = nn.BatchNorm3d(inner)
        self.b = nn.Conv3d(inner, inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(inner)
        self.c = nn.Conv3d(inner, out_channels, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.a_bn(self.a(x)), inplace=True)
        x = F.relu(self.b_bn(self.b(x)), inplace=True)
        return self.c_bn(self.c(x))


class ResBlock(nn.Module):
    """Bottleneck residual block; ``branch1`` (1x1x1 conv + BN) projects the shortcut when the width or the
    stride changes."""

    def __init__(self, in_channels: int, out_channels: int, inner: int, temporal_kernel: int, stride: int) -> None:
        super().__init__()
        self.has_projection = in_channels != out_channels or stride != 1
        if self.has_projection:
            self.branch1 = nn.Conv3d(in_channels, out_channels, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = nn.BatchNorm3d(out_channels)
        self.branch2 = BottleneckTransform(in_channels, out_channels, inner, temporal_kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if self.has_projection else x
        return F.relu(shortcut + self.branch2(x), inplace=True)


def _res_stage(in_channels: int, out_channels: int, inner: int, temporal_kernel: int, stride: int,
               depth: int) -> nn.Sequential:
    blocks = [ResBlock(in_channels if i == 0 else out_channels, out_channels, inner, temporal_kernel,
                       stride if i == 0 else 1) for i in range(depth)]
    return nn.Sequential(*blocks)


# (slow, fast) temporal kernel of the stem and of res2..res5: PySlowFast's "slowfast" basis.
_TEMPORAL_KERNELS = ((1, 5), (1, 3), (1, 3), (3, 3), (3, 3))
_R50_DEPTHS = (3, 4, 6, 3)


def build_resnet_slowfast(lateral: str, num_classes: int, alpha: int = 4, beta_inv: int = 8, dropout: float = 0.5,
                          attn_backend: str = "sdpa", width: int = 64, depths: Sequence[int] = _R50_DEPTHS,
                          fusion_ratio: int = 2, fusion_kernel: int = 7) -> TwoPathwayNet:
    """SlowFast-ResNet with a fusion after the stem, res2, res3 and res4.

    ``lateral="cmda"``: the dual-attention model (every fusion is :class:`CMDA`; the fast pathway widens).
    ``lateral="conv"``: the plain SlowFast baseline (:class:`ConvLateral`, ``fusion_ratio`` x ``Cf`` channels).
    The head pools globally (the reference's short-cycle multigrid head), so any clip size works.
    """
    if lateral not in ("cmda", "conv"):
        raise ValueError(f"lateral must be 'cmda' or 'conv', got {lateral!r}")
    slow, fast = width, width // beta_inv
    body: list[tuple[str, nn.Module]] = [
        ("s1", TwoPathway(ResNetStem(slow, _TEMPORAL_KERNELS[0][0]), ResNetStem(fast, _TEMPORAL_KERNELS[0][1])))]
    for stage, depth in enumerate(depths):
        if lateral == "cmda":
            fuse: nn.Module = CMDA(slow, fast, alpha, beta_inv, attn_backend)
            slow_in, fast_in = fuse.out_channels
        else:
            fuse = ConvLateral(fast, fusion_ratio, fusion_kernel, alpha)
            slow_in, fast_in = slow + fast * fusion_ratio, fast
        body.append((f"s{stage + 1}_fuse", fuse))
        slow_out = width * 4 * 2 ** stage  # 256, 512, 1024, 2048
        inner = width * 2 ** stage
        stride = 1 if stage == 0 else 2
        kt_slow, kt_fast = _TEMPORAL_KERNELS[stage + 1]
        body.append((f"s{stage + 2}", TwoPathway(
            _res_stage(slow_in, slow_out, inner, kt_slow, stride, depth),
            _res_stage(fast_in, slow_out // beta_inv, inner // beta_inv, kt_fast, stride, depth))))
        slow, fast = slow_out, slow_out // beta_inv
    head = TwoPathwayHead((slow, fast), num_classes, dropout)
    model = TwoPathwayNet(body, head, alpha)
    init_reference_weights(model)
    return model
