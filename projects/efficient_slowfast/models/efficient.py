"""The four efficient two-pathway nets of the CMDA paper: ShuffleNetV2, ShuffleNet, MobileNetV2 and GhostNet.

Paper and citation: see ``slowfast.py``. Spec: ``shared/specs/efficient_slowfast.md`` sections 1.4-1.8.

Each 2D net is inflated to 3D as in Efficient-3DCNNs but with **no temporal stride anywhere** (every stride is
``(1, s, s)``), and doubled into a slow pathway (width ``W``) and a fast pathway (about ``W / beta_inv``), with a
:class:`~.slowfast.CMDA` fusion after some stages; each stage's input width is its pathway's fused width. The
channel formulas follow the reference exactly, including its irregular ones (ShuffleNetV2 240 / 496, GhostNet fast
widths rounded up to multiples of 4), because released weights depend on them. Widths and groups the reference
cannot build are refused up front with the list of valid ones (:class:`ChannelPlanError`).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .slowfast import CMDA, TwoPathway, TwoPathwayHead, TwoPathwayNet, init_reference_weights

__all__ = ["ChannelPlanError", "build_ghostnet", "build_mobilenetv2", "build_shufflenet", "build_shufflenetv2",
           "make_divisible"]


class ChannelPlanError(ValueError):
    """A width / groups / beta_inv combination for which the reference network cannot be built."""


def _check(condition: bool, model: str, problem: str, valid: str) -> None:
    if not condition:
        raise ChannelPlanError(f"{model} cannot be built: {problem}. Valid: {valid}")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batch, channels, frames, height, width = x.shape
    x = x.view(batch, groups, channels // groups, frames, height, width)  # [B, g, C/g, T, H, W]
    return x.transpose(1, 2).reshape(batch, channels, frames, height, width)  # [B, C, T, H, W], interleaved


def _conv(in_channels: int, out_channels: int, kernel: int | tuple[int, int, int] = 1, stride: int = 1,
          groups: int = 1, bias: bool = False) -> nn.Conv3d:
    """3D conv with spatial-only ``stride`` and "same" padding."""
    size = (kernel,) * 3 if isinstance(kernel, int) else kernel
    return nn.Conv3d(in_channels, out_channels, size, stride=(1, stride, stride),
                     padding=tuple(k // 2 for k in size), groups=groups, bias=bias)


def _stem(out_channels: int, activation: type[nn.Module], max_pool: bool) -> nn.Sequential:
    """3x3x3 conv with spatial stride 2, BN, activation, and (ShuffleNet / ShuffleNetV2) a 3x3x3 max-pool."""
    layers = [_conv(3, out_channels, 3, stride=2), nn.BatchNorm3d(out_channels), activation(inplace=True)]
    if max_pool:
        layers.append(nn.MaxPool3d(3, stride=(1, 2, 2), padding=1))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------------------------
# ShuffleNetV2
# --------------------------------------------------------------------------------------------------------------

class ShuffleV2Unit(nn.Module):
    """ShuffleNetV2 unit. Stride 2: ``branch1`` (depthwise, BN, pointwise, BN, ReLU) and ``branch2`` (pointwise,
    BN, ReLU, depthwise, BN, pointwise, BN, ReLU) both on the input. Stride 1: the second half of the channels
    through ``branch2``, the first half unchanged. Then concatenation and a 2-group channel shuffle."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = out_channels // 2
        if stride == 2:
            self.branch1 = nn.Sequential(
                _conv(in_channels, in_channels, 3, stride, groups=in_channels), nn.BatchNorm3d(in_channels),
                _conv(in_channels, half), nn.BatchNorm3d(half), nn.ReLU(inplace=True))
        branch_in = in_channels if stride == 2 else half
        self.branch2 = nn.Sequential(
            _conv(branch_in, half), nn.BatchNorm3d(half), nn.ReLU(inplace=True),
            _conv(half, half, 3, stride, groups=half), nn.BatchNorm3d(half),
            _conv(half, half), nn.BatchNorm3d(half), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)  # [B, C_out, T, H/2, W/2]
        else:
            keep, transform = x.chunk(2, dim=1)
            out = torch.cat([keep, self.branch2(transform)], 1)  # [B, C, T, H, W]
        return channel_shuffle(out, 2)


# Slow widths [stem, s2, s3, s4, head conv] per width; 240 (W1) and 496 (W2) differ from 2D ShuffleNetV2 (232,
# 488) so that the fast widths (each // beta_inv) stay even.
SHUFFLENETV2_WIDTHS = {0.25: (24, 32, 64, 128, 1024), 0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 240, 464, 1024),
                       1.5: (24, 176, 352, 704, 1024), 2.0: (24, 224, 496, 976, 2048)}


def build_shufflenetv2(num_classes: int, width_mult: float = 2.0, alpha: int = 4, beta_inv: int = 8,
                       dropout: float = 0.5, attn_backend: str = "sdpa") -> TwoPathwayNet:
    name = "slowfast_shufflenetv2"
    valid = f"width_mult in {tuple(SHUFFLENETV2_WIDTHS)} (at beta_inv 8)"
    _check(width_mult in SHUFFLENETV2_WIDTHS, name, f"width_mult={width_mult} has no channel table", valid)
    slow = SHUFFLENETV2_WIDTHS[width_mult]
    fast = tuple(c // beta_inv for c in slow)
    _check(all(c > 0 and c % 2 == 0 for c in fast[1:4]), name,
           f"fast stage widths {fast[1:4]} at beta_inv={beta_inv} must be positive and even (2-group shuffle)", valid)
    body: list[tuple[str, nn.Module]] = [("s1", TwoPathway(_stem(slow[0], nn.ReLU, True), _stem(fast[0], nn.ReLU,
                                                                                                True)))]
    for stage, repeats in enumerate((4, 8, 4)):
        fuse = CMDA(slow[stage], fast[stage], alpha, beta_inv, attn_backend)
        body.append((f"s{stage + 1}_fuse", fuse))
        pathways = []
        for width_in, width_out in zip(fuse.out_channels, (slow[stage + 1], fast[stage + 1])):
            units = [ShuffleV2Unit(width_in if i == 0 else width_out, width_out, 2 if i == 0 else 1)
                     for i in range(repeats)]
            pathways.append(nn.Sequential(*units))
        body.append((f"s{stage + 2}", TwoPathway(*pathways)))
    fuse = CMDA(slow[3], fast[3], alpha, beta_inv, attn_backend)
    body.append(("s4_fuse", fuse))
    blocks = [nn.Sequential(_conv(c_in, c_out), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True))
              for c_in, c_out in zip(fuse.out_channels, (slow[4], fast[4]))]
    head = TwoPathwayHead((slow[4], fast[4]), num_classes, dropout, blocks=blocks)
    return _finish(body, head, alpha)


# --------------------------------------------------------------------------------------------------------------
# ShuffleNet (v1)
# --------------------------------------------------------------------------------------------------------------

class ShuffleUnit(nn.Module):
    """ShuffleNet bottleneck: grouped 1x1x1 (ungrouped when the input has 24 channels), BN, ReLU, channel shuffle;
    depthwise 3x3x3, BN; grouped 1x1x1, BN. Stride 1: residual add, ReLU. Stride 2 (the reference's variant):
    the residual branch gives ``out - out // 2`` channels, the shortcut (ungrouped 1x1x1 conv to ``out // 2``,
    then 1x3x3 average pool with stride 2) the rest; concatenation, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int) -> None:
        super().__init__()
        self.stride = stride
        self.groups = groups
        mid = out_channels // 2 if stride == 2 else out_channels // 4
        residual_out = out_channels - out_channels // 2 if stride == 2 else out_channels
        self.conv1 = _conv(in_channels, mid, groups=1 if in_channels == 24 else groups)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = _conv(mid, mid, 3, stride, groups=mid)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = _conv(mid, residual_out, groups=groups)
        self.bn3 = nn.BatchNorm3d(residual_out)
        if stride == 2:
            self.shortcut = nn.Sequential(_conv(in_channels, mid),
                                          nn.AvgPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = channel_shuffle(F.relu(self.bn1(self.conv1(x))), self.groups)
        out = self.bn3(self.conv3(self.bn2(self.conv2(out))))
        if self.stride == 2:
            return F.relu(torch.cat([out, self.shortcut(x)], 1))  # [B, C_out, T, H/2, W/2]
        return F.relu(out + x)


SHUFFLENET_PLANES = {1: (24, 144, 288, 567), 2: (24, 200, 400, 800), 3: (24, 240, 480, 960),
                     4: (24, 272, 544, 1088), 8: (24, 384, 768, 1536)}
SHUFFLENET_VALID = "groups=1 with width_mult in (0.5, 1.0, 1.5, 2.0), or groups=3 with width_mult=2.0 (at beta_inv 8)"


def _shufflenet_unit_fits(in_channels: int, out_channels: int, stride: int, groups: int) -> bool:
    mid = out_channels // 2 if stride == 2 else out_channels // 4
    residual_out = out_channels - out_channels // 2 if stride == 2 else out_channels
    first_groups = 1 if in_channels == 24 else groups
    return (min(mid, residual_out) > 0 and in_channels % first_groups == 0 and mid % groups == 0
            and residual_out % groups == 0)


def build_shufflenet(num_classes: int, width_mult: float = 1.0, groups: int = 1, alpha: int = 4, beta_inv: int = 8,
                     dropout: float = 0.5, attn_backend: str = "sdpa") -> TwoPathwayNet:
    name = "slowfast_shufflenet"
    _check(groups in SHUFFLENET_PLANES, name, f"groups={groups} has no channel table", SHUFFLENET_VALID)
    slow = tuple(int(p * width_mult) for p in SHUFFLENET_PLANES[groups])
    fast = tuple(c // beta_inv for c in slow)
    _check(min(fast) > 0, name, f"width_mult={width_mult} gives fast widths {fast}", SHUFFLENET_VALID)
    body: list[tuple[str, nn.Module]] = [("s1", TwoPathway(_stem(slow[0], nn.ReLU, True), _stem(fast[0], nn.ReLU,
                                                                                                True)))]
    fuse = CMDA(slow[0], fast[0], alpha, beta_inv, attn_backend)
    body.append(("s1_fuse", fuse))
    for stage, repeats in enumerate((4, 8, 4)):
        pathways = []
        for width_in, width_out in zip(fuse.out_channels, (slow[stage + 1], fast[stage + 1])):
            for i in range(repeats):
                _check(_shufflenet_unit_fits(width_in if i == 0 else width_out, width_out, 2 if i == 0 else 1,
                                             groups), name,
                       f"width_mult={width_mult}, groups={groups}: a {width_in if i == 0 else width_out}->"
                       f"{width_out} unit of stage s{stage + 2} has channels not divisible by its groups",
                       SHUFFLENET_VALID)
            pathways.append(nn.Sequential(*[ShuffleUnit(width_in if i == 0 else width_out, width_out,
                                                        2 if i == 0 else 1, groups) for i in range(repeats)]))
        body.append((f"s{stage + 2}", TwoPathway(*pathways)))
        fuse = CMDA(slow[stage + 1], fast[stage + 1], alpha, beta_inv, attn_backend)
        body.append((f"s{stage + 2}_fuse", fuse))
    head = TwoPathwayHead(fuse.out_channels, num_classes, dropout)  # no head conv: pooled fused s4 outputs
    return _finish(body, head, alpha)


# --------------------------------------------------------------------------------------------------------------
# MobileNetV2
# --------------------------------------------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    """MobileNetV2 block in ``conv``: expansion ratio 1: depthwise, BN, ReLU6, pointwise, BN; otherwise pointwise
    to ``round(in * t)``, BN, ReLU6, depthwise 3x3x3, BN, ReLU6, pointwise-linear, BN. Residual only when the
    stride is 1 and the width is kept."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers += [_conv(in_channels, hidden), nn.BatchNorm3d(hidden), nn.ReLU6(inplace=True)]
        layers += [_conv(hidden, hidden, 3, stride, groups=hidden), nn.BatchNorm3d(hidden), nn.ReLU6(inplace=True),
                   _conv(hidden, out_channels), nn.BatchNorm3d(out_channels)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


# (t, c, n, s) of MobileNetV2, grouped into the reference's modules; CMDA follows s2, s4, s5 and s7 (the modules
# are named s3_fuse, s4_fuse, s5_fuse and s7_fuse there), none follows s6 or s8.
MOBILENETV2_STAGES = (("s2", ((1, 16, 1, 1), (6, 24, 2, 2)), "s3_fuse"), ("s4", ((6, 32, 3, 2),), "s4_fuse"),
                      ("s5", ((6, 64, 4, 2),), "s5_fuse"), ("s6", ((6, 96, 3, 1),), None),
                      ("s7", ((6, 160, 3, 2),), "s7_fuse"), ("s8", ((6, 320, 1, 1),), None))
MOBILENETV2_VALID = "width_mult in (0.5, 0.7, 1.0, 1.4, 2.0) (any width whose fast widths stay positive)"


def build_mobilenetv2(num_classes: int, width_mult: float = 0.5, alpha: int = 4, beta_inv: int = 8,
                      dropout: float = 0.5, attn_backend: str = "sdpa") -> TwoPathwayNet:
    name = "slowfast_mobilenetv2"
    smallest_fast = min(int(c * width_mult // beta_inv) for _, settings, _ in MOBILENETV2_STAGES
                        for _, c, _, _ in settings)
    _check(smallest_fast > 0 and int(32 * width_mult / beta_inv) > 0, name,
           f"width_mult={width_mult} rounds a fast width to 0 at beta_inv={beta_inv}", MOBILENETV2_VALID)
    widths = [int(32 * width_mult), int(32 * (width_mult / beta_inv))]  # stems; the reference's exact formulas
    body: list[tuple[str, nn.Module]] = [("s1", TwoPathway(_stem(widths[0], nn.ReLU6, False),
                                                           _stem(widths[1], nn.ReLU6, False)))]
    for stage_name, settings, fuse_name in MOBILENETV2_STAGES:
        pathways = []
        for p in range(2):
            blocks, width_in = [], widths[p]
            for t, c, n, s in settings:
                width_out = int(c * width_mult) if p == 0 else int(c * width_mult // beta_inv)
                for i in range(n):
                    blocks.append(InvertedResidual(width_in, width_out, s if i == 0 else 1, t))
                    width_in = width_out
            pathways.append(nn.Sequential(*blocks))
            widths[p] = width_in
        body.append((stage_name, TwoPathway(*pathways)))
        if fuse_name is not None:
            fuse = CMDA(widths[0], widths[0] // beta_inv, alpha, beta_inv, attn_backend)
            body.append((fuse_name, fuse))
            widths = list(fuse.out_channels)
    last = int(1280 * width_mult) if width_mult > 1.0 else 1280
    lasts = (last, last // beta_inv)
    blocks = [nn.Sequential(_conv(c_in, c_out), nn.BatchNorm3d(c_out), nn.ReLU6(inplace=True))
              for c_in, c_out in zip(widths, lasts)]
    head = TwoPathwayHead(lasts, num_classes, dropout, blocks=blocks)
    return _finish(body, head, alpha)


# --------------------------------------------------------------------------------------------------------------
# GhostNet
# --------------------------------------------------------------------------------------------------------------

def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """The TF-slim rounding GhostNet uses: nearest multiple of ``divisor``, at least ``min_value`` (default
    ``divisor``), never more than 10% below ``value``."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class GhostModule(nn.Module):
    """1x1x1 ``primary_conv`` to ``ceil(out / 2)`` channels and a depthwise 3x3x3 ``cheap_operation`` on its
    output (each BN, ReLU if ``relu``); the concatenation cut to ``out`` channels."""

    def __init__(self, in_channels: int, out_channels: int, relu: bool) -> None:
        super().__init__()
        self.out_channels = out_channels
        init = math.ceil(out_channels / 2)
        self.primary_conv = nn.Sequential(_conv(in_channels, init), nn.BatchNorm3d(init),
                                          nn.ReLU(inplace=True) if relu else nn.Identity())
        self.cheap_operation = nn.Sequential(_conv(init, init, 3, groups=init), nn.BatchNorm3d(init),
                                             nn.ReLU(inplace=True) if relu else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        primary = self.primary_conv(x)
        return torch.cat([primary, self.cheap_operation(primary)], 1)[:, :self.out_channels]  # [B, out, T, H, W]


class SqueezeExcite(nn.Module):
    """Global average pool, 1x1x1 reduce (bias) to ``make_divisible(C / 4, 4)``, ReLU, 1x1x1 expand (bias),
    hard-sigmoid gate ``relu6(x + 3) / 6``."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        reduced = make_divisible(channels * ratio, 4)
        self.conv_reduce = nn.Conv3d(channels, reduced, 1)
        self.conv_expand = nn.Conv3d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.conv_expand(F.relu(self.conv_reduce(x.mean((2, 3, 4), keepdim=True))))  # [B, C, 1, 1, 1]
        return x * (F.relu6(gate + 3.0) / 6.0)


class GhostBottleneck(nn.Module):
    """``ghost1`` (ReLU); if stride 2 a depthwise ``1 x k x k`` conv (``conv_dw``, ``bn_dw``); optional SE;
    ``ghost2`` (no ReLU); plus the shortcut: identity when width and stride are kept, else depthwise
    ``1 x k x k`` (stride), BN, 1x1x1, BN."""

    def __init__(self, in_channels: int, mid: int, out_channels: int, kernel: int, stride: int,
                 se_ratio: float) -> None:
        super().__init__()
        self.stride = stride
        self.ghost1 = GhostModule(in_channels, mid, relu=True)
        if stride > 1:
            self.conv_dw = _conv(mid, mid, (1, kernel, kernel), stride, groups=mid)
            self.bn_dw = nn.BatchNorm3d(mid)
        self.se = SqueezeExcite(mid, se_ratio) if se_ratio > 0 else nn.Identity()
        self.ghost2 = GhostModule(mid, out_channels, relu=False)
        if in_channels == out_channels and stride == 1:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                _conv(in_channels, in_channels, (1, kernel, kernel), stride, groups=in_channels),
                nn.BatchNorm3d(in_channels), _conv(in_channels, out_channels), nn.BatchNorm3d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.ghost1(x)
        if self.stride > 1:
            out = self.bn_dw(self.conv_dw(out))
        out = self.ghost2(self.se(out))
        return out + self.shortcut(x)


# (k, expansion, c, SE ratio, stride) of GhostNet, in the reference's five stages s1..s5.
GHOSTNET_STAGES = (
    ((3, 16, 16, 0, 1),),
    ((3, 48, 24, 0, 2), (3, 72, 24, 0, 1)),
    ((5, 72, 40, 0.25, 2), (5, 120, 40, 0.25, 1)),
    ((3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1),
     (3, 672, 112, 0.25, 1)),
    ((5, 672, 160, 0.25, 2), (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1),
     (5, 960, 160, 0.25, 1)),
)


def build_ghostnet(num_classes: int, width_mult: float = 1.0, alpha: int = 4, beta_inv: int = 8,
                   dropout: float = 0.5, attn_backend: str = "sdpa") -> TwoPathwayNet:
    """Fast widths are ``make_divisible(x * W // beta_inv, 4)`` (floor first, at least 4), so they are not the
    slow widths / 8, and the CMDA slow-to-fast branch (``Cs // beta_inv``) differs from the fast width (Q9)."""
    _check(width_mult > 0, "slowfast_ghostnet", f"width_mult={width_mult}",
           "width_mult > 0; the reference reports 0.5, 1.0, 1.3, 1.5, 2.0")

    def scale(x: int, p: int) -> int:
        return make_divisible(x * width_mult, 4) if p == 0 else make_divisible(x * width_mult // beta_inv, 4)

    widths = [scale(16, 0), scale(16, 1)]
    body: list[tuple[str, nn.Module]] = [("s0", TwoPathway(_stem(widths[0], nn.ReLU, False),
                                                           _stem(widths[1], nn.ReLU, False)))]
    for stage, settings in enumerate(GHOSTNET_STAGES):
        pathways = []
        for p in range(2):
            blocks, width_in = [], widths[p]
            for kernel, expansion, c, se_ratio, stride in settings:
                blocks.append(GhostBottleneck(width_in, scale(expansion, p), scale(c, p), kernel, stride, se_ratio))
                width_in = scale(c, p)
            pathways.append(nn.Sequential(*blocks))
            widths[p] = width_in
        body.append((f"s{stage + 1}", TwoPathway(*pathways)))
        if stage < 4:
            fuse = CMDA(widths[0], widths[1], alpha, beta_inv, attn_backend)
            body.append((f"s{stage + 1}_fuse", fuse))
            widths = list(fuse.out_channels)
    mids = (scale(960, 0), scale(960, 1))
    outs = (int(1280 * width_mult), int(1280 * width_mult // beta_inv))
    blocks = [nn.Sequential(_conv(c_in, c_mid), nn.BatchNorm3d(c_mid), nn.ReLU(inplace=True))
              for c_in, c_mid in zip(widths, mids)]
    projections = [nn.Conv3d(c_mid, c_out, 1) for c_mid, c_out in zip(mids, outs)]
    head = TwoPathwayHead(outs, num_classes, dropout, blocks=blocks, projections=projections)
    return _finish(body, head, alpha)


def _finish(body: Sequence[tuple[str, nn.Module]], head: TwoPathwayHead, alpha: int) -> TwoPathwayNet:
    model = TwoPathwayNet(body, head, alpha)
    init_reference_weights(model)
    return model
