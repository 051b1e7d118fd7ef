"""MGMA: Multi-Group Multi-Attention on 3D-ResNets (R3D, R(2+1)D) and a 3D-ShuffleNetV2, with their baselines.

Paper: Zeyu Shi et al., "Multi-Group Multi-Attention: Towards Discriminative Spatiotemporal Representation",
ACM Multimedia 2020, pp. 2057-2066, https://doi.org/10.1145/3394171.3413646. Reference code:
https://github.com/zhenglab/mgma (commit 4007b9b0, a PySlowFast fork; it publishes no weights and no numbers). The
spec of everything below is ``shared/specs/mgma.md``; its section 7 lists the reference's quirks, and the project
README says how each one is handled here.

An MGMA unit is a residual unit whose output is re-weighted by an attention computed from its input::

    x' = shuffle(x)                        even channels, then odd ones (USE_SHUFFLE); x' feeds everything below
    y  = ReLU(F(x') + shortcut(x'))        the unit as usual
    A  = A_T(x') + A_S(x')                 TSA; TA / SA use one branch, UA one 3x3x3 branch
    A_k(x') = sigmoid(BN(GroupConv_k(Upsample_k(MaxPool_k(x')))))
    out = y * (1 + A)

Each branch pools by 2 along its axes (T: time; S: height and width; U: all three), repeats the pooled values back
to full size (nearest upsampling), and runs a grouped conv (kernel 3x1x1, 1x3x3 or 3x3x3) whose groups are the
"multi groups" of the paper: G runs of consecutive channels with their own filters. When G does not divide C, the
reference splits the channels into ``ceil(C/G)``-channel groups plus one remainder group, run as a second conv.

MGMA sits on every unit of ResNet layer2 and layer3 (ShuffleNet stages 0 and 1) but the first, or on those with
``index % interval == 1``. The reference's plain units carry a squeeze-excitation module (``SE_RATIO`` 1.0 by
default), so its baselines are SE-ResNets and its MGMA models keep SE in every non-MGMA unit; ``se_ratio=0``
builds none. ``forward`` returns logits ``[B, K]`` in train and eval mode (the mean of the per-position logits);
the reference's eval-mode output, softmax per position averaged over positions, is
:func:`fully_convolutional_scores`.

Citation::

    @inproceedings{shi2020mgma,
      title     = {Multi-Group Multi-Attention: Towards Discriminative Spatiotemporal Representation},
      author    = {Shi, Zeyu and Cao, Liangjie and Guan, Cheng and Zheng, Haiyong and Gu, Zhaorui and Yu, Zhibin
                   and Zheng, Bing},
      booktitle = {Proceedings of the 28th ACM International Conference on Multimedia},
      pages     = {2057--2066},
      year      = {2020},
      doi       = {10.1145/3394171.3413646}
    }
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.variants import Variant, lookup, variant_table

__all__ = [
    "MGMA_TYPES", "MGMAConfig", "MGMA", "AttentionBranch", "SqueezeExcite", "ResidualUnit", "ShuffleUnit",
    "MGMAResNet", "MGMAShuffleNet", "VARIANTS", "build_model", "convert_reference_state_dict",
    "fully_convolutional_scores", "channel_splits", "shuffle_channels", "has_mgma",
]

MGMA_TYPES = ("TSA", "TA", "SA", "UA")
MGMA_MEAN = (0.45, 0.45, 0.45)  # PySlowFast's DATA.MEAN / DATA.STD, which the reference keeps
MGMA_STD = (0.225, 0.225, 0.225)

# Per branch kind: (pool kernel, pool stride, pool padding, upsample scale, conv kernel, conv padding).
_BRANCH_GEOMETRY = {
    "T": ((3, 1, 1), (2, 1, 1), (1, 0, 0), (2.0, 1.0, 1.0), (3, 1, 1), (1, 0, 0)),
    "S": ((1, 3, 3), (1, 2, 2), (0, 1, 1), (1.0, 2.0, 2.0), (1, 3, 3), (0, 1, 1)),
    "U": ((3, 3, 3), (2, 2, 2), (1, 1, 1), (2.0, 2.0, 2.0), (3, 3, 3), (1, 1, 1)),
}
_BRANCH_NAMES = {"T": "temporal", "S": "spatial", "U": "unified"}


def channel_splits(channels: int, num_groups: int) -> list[tuple[int, int]]:
    """``(channels, groups)`` of each grouped conv the reference builds for ``num_groups`` groups: one split if
    ``num_groups`` divides ``channels``; else ``ceil(C/G)``-channel groups and one group with the rest (244
    channels, G=8 -> [(217, 7), (27, 1)])."""
    if num_groups < 1 or num_groups > channels:
        raise ValueError(f"num_groups must be in [1, {channels}] for a {channels}-channel MGMA, got {num_groups}")
    if channels % num_groups == 0:
        return [(channels, num_groups)]
    group_channels = math.ceil(channels / num_groups)
    full_groups = channels // group_channels
    return [(group_channels * full_groups, full_groups), (channels - group_channels * full_groups, 1)]


def shuffle_channels(x: torch.Tensor) -> torch.Tensor:
    """Even channels first, then odd ones, per sample: ``[0, 1, ..., 7] -> [0, 2, 4, 6, 1, 3, 5, 7]``. One copy,
    in the input's memory format (contiguous or channels-last-3d)."""
    batch, channels = x.shape[:2]
    if channels % 2:
        raise ValueError(f"the channel shuffle needs an even channel count, got {channels}")
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        last = x.permute(0, 2, 3, 4, 1)  # [B, T, H, W, C], a contiguous view
        shuffled = last.unflatten(-1, (channels // 2, 2)).transpose(-1, -2).flatten(-2)  # [B, T, H, W, C]
        return shuffled.permute(0, 4, 1, 2, 3)  # [B, C, T, H, W], channels-last-3d
    pairs = x.reshape(batch, channels // 2, 2, *x.shape[2:])  # [B, C/2, 2, T, H, W]
    return pairs.transpose(1, 2).reshape(x.shape)  # [B, C, T, H, W]


def has_mgma(eligible_stage: bool, index: int, interval: int, use_first_unit: bool) -> bool:
    """The reference's insertion rule for unit ``index`` of a stage."""
    if not eligible_stage or (index == 0 and not use_first_unit):
        return False
    return index % interval == 1 if interval > 1 else True


# --------------------------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------------------------

class AttentionBranch(nn.Module):
    """One attention kind ("T", "S" or "U") over all channels: max-pool by 2, nearest upsample back, grouped conv
    at full resolution (one conv per channel split), BN, sigmoid. One BN covers every split (BN is per channel,
    so this equals the reference's BN per split)."""

    def __init__(self, kind: str, channels: int, num_groups: int) -> None:
        super().__init__()
        self.kind = kind
        self.pool_kernel, self.pool_stride, self.pool_padding, self.scale, kernel, padding = _BRANCH_GEOMETRY[kind]
        self.splits = channel_splits(channels, num_groups)
        self.convs = nn.ModuleList(nn.Conv3d(c, c, kernel, padding=padding, groups=g, bias=False)
                                   for c, g in self.splits)
        self.bn = nn.BatchNorm3d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.max_pool3d(x, self.pool_kernel, self.pool_stride, self.pool_padding)  # [B, C, T/2|T, ...]
        smoothed = F.interpolate(pooled, scale_factor=self.scale, mode="nearest")  # [B, C, T, H, W]
        if len(self.convs) == 1:
            out = self.convs[0](smoothed)
        else:
            parts = smoothed.split([c for c, _ in self.splits], dim=1)
            out = torch.cat([conv(part) for conv, part in zip(self.convs, parts)], dim=1)  # [B, C, T, H, W]
        return torch.sigmoid(self.bn(out))


class MGMA(nn.Module):
    """The attention ``A`` of an MGMA unit, same shape as its input ``[B, C, T, H, W]``: TSA = A_T + A_S (range
    (0, 2)), TA = A_T, SA = A_S, UA = A_U. Needs T even for T/U branches and H, W even for S/U branches."""

    def __init__(self, channels: int, mgma_type: str = "TSA", num_groups: int = 8) -> None:
        super().__init__()
        if mgma_type not in MGMA_TYPES:
            raise ValueError(f"unknown mgma_type {mgma_type!r}; valid types: {', '.join(MGMA_TYPES)} (the "
                             "reference silently builds TSA for any other string)")
        self.mgma_type = mgma_type
        kinds = ("T", "S") if mgma_type == "TSA" else (mgma_type[0],)
        self.branches = nn.ModuleDict({_BRANCH_NAMES[k]: AttentionBranch(k, channels, num_groups) for k in kinds})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [branch(x) for branch in self.branches.values()]
        return maps[0] if len(maps) == 1 else maps[0] + maps[1]


class SqueezeExcite(nn.Module):
    """The reference's SE (PySlowFast's, with ReLU): global average, 1x1x1 conv C -> c, ReLU, 1x1x1 conv c -> C,
    sigmoid, rescale; ``c`` is ``C * ratio`` rounded to a multiple of 8 (at least 8), so ratio 1.0 keeps C."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        width = channels * ratio
        hidden = max(8, int(width + 4) // 8 * 8)
        if hidden < 0.9 * width:
            hidden += 8
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.fc2 = nn.Conv3d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3, 4), keepdim=True)  # [B, C, 1, 1, 1]
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(scale))))


class Conv2Plus1d(nn.Module):
    """R(2+1)D factorised conv: 1xkxk spatial conv to ``mid`` channels, BN, ReLU, then kx1x1 temporal conv."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, kernel: tuple[int, int, int],
                 stride: tuple[int, int, int], padding: tuple[int, int, int]) -> None:
        super().__init__()
        self.spatial = nn.Conv3d(in_channels, mid_channels, (1, *kernel[1:]), (1, *stride[1:]), (0, *padding[1:]),
                                 bias=False)
        self.spatial_bn = nn.BatchNorm3d(mid_channels)
        self.temporal = nn.Conv3d(mid_channels, out_channels, (kernel[0], 1, 1), (stride[0], 1, 1),
                                  (padding[0], 0, 0), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(F.relu(self.spatial_bn(self.spatial(x))))


def conv3x3x3(in_channels: int, out_channels: int, stride: int, factorised: bool) -> nn.Module:
    """A full 3x3x3 conv (R3D) or its R(2+1)D factorisation with the reference's (and the R(2+1)D paper's)
    parameter-matching middle width ``floor(27 * in * out / (9 * in + 3 * out))``."""
    strides = (stride,) * 3
    if not factorised:
        return nn.Conv3d(in_channels, out_channels, 3, strides, 1, bias=False)
    mid = 27 * in_channels * out_channels // (9 * in_channels + 3 * out_channels)
    return Conv2Plus1d(in_channels, out_channels, mid, (3, 3, 3), strides, (1, 1, 1))


class ResidualUnit(nn.Module):
    """Basic (two 3x3x3 convs) or bottleneck (1x1x1, 3x3x3, 1x1x1) 3D residual unit, with SE before the residual
    add in plain units and MGMA after the final ReLU in MGMA units (never both, as in the reference)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, bottleneck: bool, factorised: bool,
                 se_ratio: float = 0.0, mgma_type: str | None = None, num_groups: int = 8,
                 use_shuffle: bool = True) -> None:
        super().__init__()
        self.bottleneck = bottleneck
        if bottleneck:
            planes = out_channels // 4
            self.conv1 = nn.Conv3d(in_channels, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm3d(planes)
            self.conv2 = conv3x3x3(planes, planes, stride, factorised)
            self.bn2 = nn.BatchNorm3d(planes)
            self.conv3 = nn.Conv3d(planes, out_channels, 1, bias=False)
            self.bn3 = nn.BatchNorm3d(out_channels)
        else:
            self.conv1 = conv3x3x3(in_channels, out_channels, stride, factorised)
            self.bn1 = nn.BatchNorm3d(out_channels)
            self.conv2 = conv3x3x3(out_channels, out_channels, 1, factorised)
            self.bn2 = nn.BatchNorm3d(out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv3d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm3d(out_channels))
        self.mgma = None
        self.se = None
        self.use_shuffle = use_shuffle
        if mgma_type is not None:
            if in_channels != out_channels or stride != 1:
                raise ValueError(
                    f"MGMA on a unit that changes the shape ({in_channels} -> {out_channels} channels, stride "
                    f"{stride}): the attention has the input's channels, so it cannot weight the output. This is "
                    "use_first_unit=True with interval=1, which crashes the reference too; use interval > 1 or "
                    "use_first_unit=False")
            self.mgma = MGMA(in_channels, mgma_type, num_groups)
        elif se_ratio > 0:
            self.se = SqueezeExcite(out_channels, se_ratio)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.bottleneck:
            out = self.bn3(self.conv3(F.relu(out)))
        return out if self.se is None else self.se(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mgma is not None and self.use_shuffle:
            x = shuffle_channels(x)  # the conv path and the identity see the shuffled order too
        shortcut = x if self.shortcut is None else self.shortcut(x)
        out = F.relu(self.residual(x) + shortcut)
        if self.mgma is None:
            return out
        return torch.addcmul(out, out, self.mgma(x))  # out * (1 + A)


class ShuffleUnit(nn.Module):
    """3D ShuffleNetV2 unit (megvii convention). Stride 2 (the first unit of a stage, halving T, H and W): the
    input goes to both branches, ``concat(proj(x), main(x))``. Stride 1: the input is split into its even channels
    (passed through) and odd channels (``main``), ``concat(even, main(odd))``; an MGMA unit takes its attention
    from ``concat(even, odd)`` and, with ``use_shuffle=False``, splits into halves instead (no channel mixing)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, mgma_type: str | None = None,
                 num_groups: int = 8, use_shuffle: bool = True) -> None:
        super().__init__()
        self.stride = stride
        self.use_shuffle = use_shuffle
        mid = out_channels // 2
        branch_in = in_channels if stride == 2 else in_channels // 2
        self.branch_main = nn.Sequential(
            nn.Conv3d(branch_in, mid, 1, bias=False), nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
            nn.Conv3d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm3d(mid),
            nn.Conv3d(mid, out_channels - branch_in, 1, bias=False), nn.BatchNorm3d(out_channels - branch_in),
            nn.ReLU(inplace=True))
        self.branch_proj = None
        if stride == 2:
            self.branch_proj = nn.Sequential(
                nn.Conv3d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False),
                nn.BatchNorm3d(in_channels), nn.Conv3d(in_channels, in_channels, 1, bias=False),
                nn.BatchNorm3d(in_channels), nn.ReLU(inplace=True))
        self.mgma = None
        if mgma_type is not None:
            if stride != 1:
                raise ValueError(
                    f"MGMA on the first (stride-2, {in_channels} -> {out_channels} channels) ShuffleNet unit of a "
                    "stage: the attention has the input's channels, so it cannot weight the output. This is "
                    "use_first_unit=True with interval=1, which crashes the reference too; use interval > 1 or "
                    "use_first_unit=False")
            self.mgma = MGMA(in_channels, mgma_type, num_groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            return torch.cat((self.branch_proj(x), self.branch_main(x)), dim=1)
        if self.mgma is None or self.use_shuffle:
            x = shuffle_channels(x)
        half = x.shape[1] // 2
        passed, processed = x[:, :half], x[:, half:]  # [B, C/2, T, H, W] each
        out = torch.cat((passed, self.branch_main(processed)), dim=1)  # [B, C, T, H, W]
        if self.mgma is None:
            return out
        return torch.addcmul(out, out, self.mgma(x))  # out * (1 + A)


# --------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MGMAConfig:
    """Architecture of one variant (the ``arch`` of its table entry, then the overrides).

    ``backbone``: "r3d", "r2plus1d" (3D ResNets) or "shufflenet"; ``blocks`` / ``widths``: units and output
    channels per stage (ResNet bottleneck units have ``width/4`` planes); ``mgma_type`` None builds the baseline.
    ``head_kernel``: the spatial size of the head's average pool (7 in the reference; smaller for tiny variants).
    """

    backbone: str = "r3d"
    blocks: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem_width: int = 64
    bottleneck: bool = False
    last_width: int = 2048  # ShuffleNet's 1x1x1 conv before the head
    head_kernel: int = 7
    mgma_type: str | None = "TSA"
    num_groups: int = 8
    se_ratio: float = 1.0
    interval: int = 1
    use_first_unit: bool = False
    use_shuffle: bool = True
    dropout: float = 0.0


class _Classifier(nn.Module):
    """Shared head and input checks: average pool (T/8 of the built clip length x k x k, stride 1) over the last
    feature map, dropout, linear per position; ``forward`` combines the positions (``position_pooling``)."""

    config: MGMAConfig
    num_frames: int
    temporal_kernel: int
    #: How ``forward`` combines the head positions (several when a clip is larger than the defining size, e.g. 2x2
    #: at the 128 test crop): "logits" averages the logits; "softmax" returns the log of the averaged
    #: per-position softmax, whose softmax is the reference's eval output (test.py sets it). Equal at one position.
    position_pooling: str = "logits"

    def _init_head(self, features: int, num_classes: int) -> None:
        self.dropout = nn.Dropout(self.config.dropout)
        self.fc = nn.Linear(features, num_classes)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    @property
    def has_mgma(self) -> bool:
        return any(isinstance(m, MGMA) for m in self.modules())

    def check_input(self, clips: torch.Tensor) -> None:
        """Raise a ``ValueError`` naming the size constraint a clip breaks (the reference fails with a shape
        mismatch inside the network)."""
        if clips.dim() != 5 or clips.shape[1] != 3:
            raise ValueError(f"expected clips [B, 3, T, H, W], got {tuple(clips.shape)}")
        frames, height, width = (int(s) for s in clips.shape[2:])
        if self.has_mgma and (frames % 8 or height % 16 or width % 16):
            raise ValueError(
                f"MGMA needs the clip length T to be a multiple of 8 and the crop height and width multiples of 16 "
                f"(its attention pools by 2 and upsamples back at 1/4 and 1/8 of the input size), got "
                f"{frames}x{height}x{width}")
        kernel = self.config.head_kernel
        if math.ceil(frames / 8) < self.temporal_kernel or min(height, width) <= 16 * (kernel - 1):
            raise ValueError(
                f"clip {frames}x{height}x{width} is smaller than the head's {self.temporal_kernel}x{kernel}x{kernel} "
                f"average pool at 1/8 time and 1/16 space: needs T >= {8 * self.temporal_kernel - 7} (the model was "
                f"built for num_frames={self.num_frames}) and H, W >= {16 * (kernel - 1) + 1}")

    def position_logits(self, clips: torch.Tensor) -> torch.Tensor:
        """Logits at every head position, ``[B, T', H', W', K]`` (1x1x1 for the defining input size; 1x2x2 at
        the reference's 128 test crop)."""
        self.check_input(clips)
        features = self.forward_features(clips)
        kernel = (self.temporal_kernel, self.config.head_kernel, self.config.head_kernel)
        pooled = F.avg_pool3d(features, kernel, stride=1)  # [B, C, T', H', W']
        return self.fc(self.dropout(pooled.permute(0, 2, 3, 4, 1)))  # [B, T', H', W', K]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        logits = self.position_logits(clips).flatten(1, 3)  # [B, P, K]
        if self.position_pooling == "softmax":  # log of the mean softmax: its softmax is the reference's score
            return torch.logsumexp(logits.log_softmax(-1), dim=1) - math.log(logits.shape[1])  # [B, K]
        return logits.mean(1)  # [B, K]


class MGMAResNet(_Classifier):
    """3D ResNet (R3D or R(2+1)D stem and units, no stem max-pool) with MGMA in layer2 and layer3.

    ``forward(x)``: ``x`` float ``[B, 3, T, H, W]`` (normalised) -> logits ``[B, num_classes]``.
    """

    def __init__(self, config: MGMAConfig, num_classes: int, num_frames: int = 8) -> None:
        super().__init__()
        if config.backbone not in ("r3d", "r2plus1d"):
            raise ValueError(f"MGMAResNet builds backbone 'r3d' or 'r2plus1d', got {config.backbone!r}")
        self.config = config
        self.num_classes = num_classes
        self.num_frames = num_frames
        self.temporal_kernel = num_frames // 8
        factorised = config.backbone == "r2plus1d"
        if factorised:  # the reference's R(2+1)D stem has a fixed 45-channel middle width
            stem_conv: nn.Module = Conv2Plus1d(3, config.stem_width, 45, (3, 7, 7), (1, 2, 2), (1, 3, 3))
        else:
            stem_conv = nn.Conv3d(3, config.stem_width, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)
        self.stem = nn.Sequential()
        self.stem.add_module("conv", stem_conv)
        self.stem.add_module("bn", nn.BatchNorm3d(config.stem_width))
        self.stem.add_module("relu", nn.ReLU(inplace=True))
        in_channels = config.stem_width
        for stage, (depth, width) in enumerate(zip(config.blocks, config.widths)):
            units = []
            for index in range(depth):
                attention = config.mgma_type is not None and has_mgma(
                    stage in (1, 2), index, config.interval, config.use_first_unit)
                units.append(ResidualUnit(
                    in_channels, width, 2 if stage > 0 and index == 0 else 1, config.bottleneck, factorised,
                    se_ratio=config.se_ratio, mgma_type=config.mgma_type if attention else None,
                    num_groups=config.num_groups, use_shuffle=config.use_shuffle))
                in_channels = width
            self.add_module(f"layer{stage + 1}", nn.Sequential(*units))
        self.num_features = in_channels
        self._init_head(in_channels, num_classes)
        self._init_weights()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.config.blocks))]

    def forward_features(self, clips: torch.Tensor) -> torch.Tensor:
        """Last feature map ``[B, C, T/8, H/16, W/16]``."""
        x = self.stem(clips)  # [B, 64, T, H/2, W/2]
        for stage in self.stages:
            x = stage(x)
        return x


class MGMAShuffleNet(_Classifier):
    """3D ShuffleNetV2 2.0x (stem 3x3x3 with spatial stride 2 and no max-pool; stages of 4, 8, 4 units, each
    halving T, H and W) with MGMA in stages 0 and 1, then a 1x1x1 conv to 2048 channels and the head."""

    def __init__(self, config: MGMAConfig, num_classes: int, num_frames: int = 8) -> None:
        super().__init__()
        if config.backbone != "shufflenet":
            raise ValueError(f"MGMAShuffleNet builds backbone 'shufflenet', got {config.backbone!r}")
        if config.se_ratio:
            raise ValueError("the reference's ShuffleNet has no SE modules; build it with se_ratio=0")
        self.config = config
        self.num_classes = num_classes
        self.num_frames = num_frames
        self.temporal_kernel = num_frames // 8
        self.stem = nn.Sequential(nn.Conv3d(3, config.stem_width, 3, (1, 2, 2), 1, bias=False),
                                  nn.BatchNorm3d(config.stem_width), nn.ReLU(inplace=True))
        in_channels = config.stem_width
        for stage, (depth, width) in enumerate(zip(config.blocks, config.widths)):
            units = []
            for index in range(depth):
                attention = config.mgma_type is not None and has_mgma(
                    stage in (0, 1), index, config.interval, config.use_first_unit)
                units.append(ShuffleUnit(in_channels, width, 2 if index == 0 else 1,
                                         config.mgma_type if attention else None, config.num_groups,
                                         config.use_shuffle))
                in_channels = width
            self.add_module(f"stage{stage}", nn.Sequential(*units))
        self.conv_last = nn.Sequential(nn.Conv3d(in_channels, config.last_width, 1, bias=False),
                                       nn.BatchNorm3d(config.last_width), nn.ReLU(inplace=True))
        self.num_features = config.last_width
        self._init_head(config.last_width, num_classes)
        self._init_weights()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"stage{i}") for i in range(len(self.config.blocks))]

    def forward_features(self, clips: torch.Tensor) -> torch.Tensor:
        """Last feature map ``[B, 2048, T/8, H/16, W/16]``."""
        x = self.stem(clips)  # [B, 24, T, H/2, W/2]
        for stage in self.stages:
            x = stage(x)
        return self.conv_last(x)


def fully_convolutional_scores(model: _Classifier, clips: torch.Tensor) -> torch.Tensor:
    """The reference's eval-mode output: softmax over classes at every head position, averaged over positions,
    ``[B, K]`` probabilities (its test protocol sums these over the clips of a video)."""
    return model.position_logits(clips).softmax(-1).mean((1, 2, 3))


def attention_maps(model: _Classifier, clips: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """Every MGMA unit's attention for ``clips``: ``{unit name: {"temporal"|"spatial"|"unified": map,
    "combined": A}}``, each ``[B, C, T, H, W]`` at that unit's resolution (values in (0, 1), combined TSA in
    (0, 2))."""
    captured: dict[str, dict[str, torch.Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, MGMA):
            unit = name.removesuffix(".mgma")
            captured[unit] = {}
            handles.append(module.register_forward_hook(
                lambda _m, _i, out, unit=unit: captured[unit].__setitem__("combined", out.detach())))
            for kind, branch in module.branches.items():
                handles.append(branch.register_forward_hook(
                    lambda _m, _i, out, unit=unit, kind=kind: captured[unit].__setitem__(kind, out.detach())))
    try:
        model(clips)
    finally:
        for handle in handles:
            handle.remove()
    return captured


# --------------------------------------------------------------------------------------------------------------
# Checkpoint conversion
# --------------------------------------------------------------------------------------------------------------

_MGMA_KEY = re.compile(r"^(?P<unit>.+)\.mgma\.(?P<branch>ta|sa|ma)\.(?P<split>\d+)\.\d+\.(?P<layer>[01])\."
                       r"(?P<leaf>\w+)$")


def _rename_resnet(name: str, config: MGMAConfig) -> str:
    """One reference ``MGMANet`` key (no ``module.``, not MGMA) -> ours."""
    if config.backbone == "r2plus1d":
        stem = (("conv1_middle.", "stem.conv.spatial."), ("bn1_middle.", "stem.conv.spatial_bn."),
                ("conv1.", "stem.conv.temporal."), ("bn1.", "stem.bn."))
    else:
        stem = (("conv1.", "stem.conv."), ("bn1.", "stem.bn."))
    for old, new in stem:
        if name.startswith(old):
            return new + name[len(old):]
    if name.startswith("projection."):
        return "fc." + name[len("projection."):]
    name = name.replace(".block.shortcut_bn.", ".shortcut.1.").replace(".block.shortcut.", ".shortcut.0.")
    if config.backbone == "r2plus1d":  # factorised: both convs of a basic unit, the middle one of a bottleneck
        factorised = "2" if config.bottleneck else "12"
        name = re.sub(rf"\.block\.conv([{factorised}])_middle\.", r".conv\1.spatial.", name)
        name = re.sub(rf"\.block\.bn([{factorised}])_middle\.", r".conv\1.spatial_bn.", name)
        name = re.sub(rf"\.block\.conv([{factorised}])\.", r".conv\1.temporal.", name)
    return name.replace(".block.", ".")


def _rename_shufflenet(name: str, config: MGMAConfig) -> str:
    """One reference ``MGMAShuffleNet`` key (no ``module.``, not MGMA) -> ours: ``features.i`` is a flat list of
    units, ours are grouped per stage."""
    if name.startswith("first_conv."):
        return "stem." + name[len("first_conv."):]
    if name.startswith("projection."):
        return "fc." + name[len("projection."):]
    match = re.match(r"^features\.(\d+)\.(.*)$", name)
    if match is None:
        return name
    index, rest = int(match.group(1)), match.group(2)
    for stage, depth in enumerate(config.blocks):
        if index < depth:
            return f"stage{stage}.{index}.{rest}"
        index -= depth
    raise KeyError(f"reference key {name!r} names a unit beyond the {sum(config.blocks)} units of this variant")


def convert_reference_state_dict(state_dict: dict[str, Any], variant: str, **overrides: Any) -> dict[str, Any]:
    """Map the reference's model weights to ours for ``build_model(variant, **overrides)``.

    Accepts its checkpoint's ``model_state`` (or the whole checkpoint dict holding it), with or without DDP's
    ``module.`` prefix. Renames the stems, units (``block.`` dropped, the shortcut conv and BN as one
    ``shortcut`` pair, R(2+1)D's ``convN_middle`` as ``convN.spatial``), the ShuffleNet's flat unit list into
    stages and ``projection`` into ``fc``; the MGMA branches ``ta`` / ``sa`` / ``ma`` become ``temporal`` /
    ``spatial`` / the kind of ``mgma_type``, and the per-split BNs of an uneven channel split are concatenated
    into the branch's one BN (``num_batches_tracked`` taken from split 0). Nothing is dropped or invented:
    ``load_state_dict(strict=True)`` names any key that does not fit.
    """
    _, config = _resolve(variant, overrides)
    if isinstance(state_dict.get("model_state"), dict):
        state_dict = state_dict["model_state"]
    rename = _rename_shufflenet if config.backbone == "shufflenet" else _rename_resnet
    converted: dict[str, Any] = {}
    bn_parts: dict[str, dict[int, torch.Tensor]] = {}
    for key, tensor in state_dict.items():
        name = key.removeprefix("module.")
        match = _MGMA_KEY.match(name)
        if match is None:
            converted[rename(name, config)] = tensor
            continue
        branch = match["branch"]
        kind = {"ta": "temporal", "sa": "spatial"}.get(branch) or _BRANCH_NAMES[(config.mgma_type or "TSA")[0]]
        prefix = f"{rename(match['unit'] + '.x', config)[:-2]}.mgma.branches.{kind}"
        if match["layer"] == "0":
            converted[f"{prefix}.convs.{match['split']}.{match['leaf']}"] = tensor
        else:
            bn_parts.setdefault(f"{prefix}.bn.{match['leaf']}", {})[int(match["split"])] = tensor
    for name, parts in bn_parts.items():
        ordered = [parts[split] for split in sorted(parts)]
        converted[name] = ordered[0] if name.endswith("num_batches_tracked") else torch.cat(ordered)
    return converted


# --------------------------------------------------------------------------------------------------------------
# Variants and builders
# --------------------------------------------------------------------------------------------------------------

_R3D18 = dict(backbone="r3d", blocks=(2, 2, 2, 2))
_R3D34 = dict(backbone="r3d", blocks=(3, 4, 6, 3))
_R3D50 = dict(backbone="r3d", blocks=(3, 4, 6, 3), widths=(256, 512, 1024, 2048), bottleneck=True)
_R2PLUS1D34 = dict(backbone="r2plus1d", blocks=(3, 4, 6, 3))
_SHUFFLENET = dict(backbone="shufflenet", blocks=(4, 8, 4), widths=(244, 488, 976), stem_width=24, se_ratio=0.0)
_BASELINE = dict(mgma_type=None)
_SPEC = "shared/specs/mgma.md section 3: reference code 4007b9b0, 101 classes, fvcore, one 8x112x112 clip"
_MEASURED = "reference code 4007b9b0 built offline (see README), 101 classes, fvcore, one 8x112x112 clip"
_SE_NOTE = ("the reference's plain units carry SE (SE_RATIO 1.0), so this baseline is an SE-ResNet; "
            "se_ratio=0 gives the true plain network")


def _paper(name: str, arch: dict[str, Any], params: int, gflops: float, source: str = _SPEC,
           notes: str = "") -> Variant:
    return Variant(name, arch=arch, num_classes=101, num_frames=8, input_size=112, mean=MGMA_MEAN, std=MGMA_STD,
                   reference_params=params, reference_gflops=gflops, source=source, notes=notes)


VARIANTS = variant_table(
    _paper("mgma_r3d18", _R3D18, 34_574_373, 20.488),
    _paper("mgma_r3d34", _R3D34, 65_865_125, 38.154, notes="the released UCF101 script's model (TSA, G=8)"),
    _paper("mgma_r3d50", _R3D50, 83_636_261, 34.287),
    _paper("mgma_r2plus1d34", _R2PLUS1D34, 65_881_196, 38.622, source=_SPEC + "; GFLOPs: " + _MEASURED),
    _paper("mgma_shufflenetv2", _SHUFFLENET, 8_441_029, 3.264),
    _paper("r3d18", {**_R3D18, **_BASELINE}, 34_614_565, 20.371, notes=_SE_NOTE),
    _paper("r3d34", {**_R3D34, **_BASELINE}, 66_050_213, 37.724, notes=_SE_NOTE + " (63,527,717 parameters)"),
    _paper("r3d50", {**_R3D50, **_BASELINE}, 86_637_605, 27.489, notes=_SE_NOTE),
    _paper("r2plus1d34", {**_R2PLUS1D34, **_BASELINE}, 66_066_284, 38.192, source=_SPEC + "; GFLOPs: " + _MEASURED,
           notes=_SE_NOTE),
    _paper("shufflenetv2_3d", {**_SHUFFLENET, **_BASELINE}, 5_655_509, 1.427, notes="ShuffleNetV2-3D 2.0x, no SE"),
    # Not from the paper: small variants for tests, CI and the CPU demo (64x64 clips, one head position).
    Variant("mgma_tiny", arch=dict(backbone="r3d", blocks=(1, 2, 2, 1), widths=(16, 32, 64, 128), stem_width=16,
                                   head_kernel=4),
            num_classes=10, num_frames=8, input_size=64, mean=MGMA_MEAN, std=MGMA_STD, paper=False,
            source="not from the paper: tests, CI and the CPU demo"),
    Variant("mgma_shufflenet_tiny",
            arch=dict(backbone="shufflenet", blocks=(1, 2, 1), widths=(20, 40, 80), stem_width=8, last_width=128,
                      head_kernel=4, se_ratio=0.0),
            num_classes=10, num_frames=8, input_size=64, mean=MGMA_MEAN, std=MGMA_STD, paper=False,
            source="not from the paper: tests and CI (stage 0 has 20 channels: an uneven 8-group split)"),
)

OVERRIDES = ("mgma_type", "num_groups", "se_ratio", "interval", "use_first_unit", "use_shuffle", "dropout")
_MGMA_OVERRIDES = frozenset(OVERRIDES) - {"se_ratio", "dropout"}


def _resolve(variant: str, overrides: dict[str, Any]) -> tuple[Variant, MGMAConfig]:
    entry = lookup(VARIANTS, variant, "mgma")
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise TypeError(f"unknown options for {variant}: {unknown}; valid: {', '.join(OVERRIDES)}")
    config = MGMAConfig(**entry.arch)
    if config.mgma_type is None and _MGMA_OVERRIDES & set(overrides):
        raise ValueError(f"{variant} is a baseline without MGMA; {sorted(_MGMA_OVERRIDES & set(overrides))} "
                         f"apply to the mgma_* variants")
    config = replace(config, **overrides)
    if config.mgma_type is not None and config.mgma_type not in MGMA_TYPES:
        raise ValueError(f"unknown mgma_type {config.mgma_type!r}; valid types: {', '.join(MGMA_TYPES)} (the "
                         f"reference silently builds TSA for any other string; its TYPE NONE is the baseline "
                         f"variant without the mgma_ prefix)")
    if config.interval < 1:
        raise ValueError(f"interval must be >= 1, got {config.interval}")
    return entry, config


def build_model(variant: str, num_classes: int | None = None, *, num_frames: int | None = None,
                **overrides: Any) -> MGMAResNet | MGMAShuffleNet:
    """Build a variant of :data:`VARIANTS`.

    Args:
        variant: e.g. ``mgma_r3d34`` (MGMA-R3D-34, TSA, G=8) or ``r3d34`` (its SE-R3D-34 baseline).
        num_classes: classifier size; None: the variant's (101, UCF101).
        num_frames: the clip length the head's temporal pool is built for (``num_frames // 8`` positions at 1/8
            time, as the reference's ``DATA.NUM_FRAMES``); None: the variant's (8). MGMA needs a multiple of 8.
        overrides: ``mgma_type`` ("TSA", "TA", "SA", "UA"), ``num_groups``, ``se_ratio`` (0 builds no SE),
            ``interval``, ``use_first_unit``, ``use_shuffle``, ``dropout``.
    """
    entry, config = _resolve(variant, overrides)
    num_frames = entry.num_frames if num_frames is None else num_frames
    if num_frames < 8 or (config.mgma_type is not None and num_frames % 8):
        raise ValueError(f"num_frames must be >= 8 (the head pools num_frames/8 positions at 1/8 time) and, with "
                         f"MGMA, a multiple of 8; got {num_frames}")
    model_class = MGMAShuffleNet if config.backbone == "shufflenet" else MGMAResNet
    return model_class(config, entry.num_classes if num_classes is None else num_classes, num_frames)
