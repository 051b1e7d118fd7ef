"""MAS-Net: Motion Accumulation and Selection Net, with its TSN and TSM baselines.

Reference code: https://github.com/Henry7Lee/MAS-Net-for-action-recognition (commit b86e599c), built on the TSN
and TSM code bases; its README says the paper was submitted to ECCV 2022 and gives no citation, so cite the code
(see README.md). The spec of everything below is ``shared/specs/masnet.md``; the module names in comments (MAM,
MSM, TIM) are the reference's.

A MAS-Net is a TSN-style 2D ResNet run on every frame of a clip. Each bottleneck is a *MAS block*::

    1x1 conv -> MAM (motion accumulation) -> MSM (motion selection) -> TIM (learnable temporal conv,
    shift-initialised) -> 3x3 conv -> 1x1 conv, plus the residual

The per-frame logits are averaged over time (TSN consensus). The baselines share the backbone: ``tsn_*`` has no
temporal modelling, ``tsm_*`` shifts 1/8 of the channels of every block input forward and 1/8 backward (TSM,
"blockres" placement).

Internal layout: frames are ``[B*T, C, H, W]``, so every 2D op is a plain batched op, and the clip layout picks the
memory format. A channels-last-3d clip (the engine's ``--channels-last``, fastest on GPUs with AMP and for CPU
inference) gives channels-last frames by a zero-copy view, physically ``[B, T, H, W, C]``; in that layout the
temporal view ``[B, C, T, H, W]`` is channels-last-3d too, so TIM runs as one native Conv3d with no transposes. A
contiguous clip gives NCHW frames (fastest for CPU training, where channels-last BatchNorm backward is slow), and
TIM then runs as shifted multiply-adds. Either way there are none of the reference's permute copies for TIM (about
10x its cost on CPU). The layout changes no numerics beyond float rounding.

Citation (the reference gives none; this cites its code)::

    @misc{masnet2021code,
      title        = {{MAS-Net} for action recognition: Motion Accumulation and Selection Net},
      howpublished = {https://github.com/Henry7Lee/MAS-Net-for-action-recognition},
      year         = {2021}
    }
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from common.engine.checkpoint import CheckpointError, load_checkpoint, load_state_dict_verbose, unwrap_state_dict
from common.variants import Variant, lookup, variant_table

__all__ = [
    "MASNetConfig", "MASNet", "MotionAccumulation", "MotionSelection", "TemporalInteraction", "TemporalShift",
    "build_model", "convert_reference_state_dict", "load_imagenet_resnet", "VARIANTS",
]

EXPANSION = 4


def shift_kernel(channels: int, fold_div: int = 8) -> torch.Tensor:
    """Depthwise temporal kernel equal to TSM's shift (see ``TemporalShift``), ``[C, 1, 3, 1, 1]``; tap 0 reads
    frame t-1, tap 1 frame t, tap 2 frame t+1."""
    fold = channels // fold_div
    kernel = torch.zeros(channels, 1, 3, 1, 1)
    kernel[:fold, 0, 2] = 1.0  # output t takes input t+1
    kernel[fold:2 * fold, 0, 0] = 1.0  # output t takes input t-1
    kernel[2 * fold:, 0, 1] = 1.0  # identity
    return kernel


class TemporalShift(nn.Module):
    """TSM's parameter-free temporal shift ("blockres"): 1/fold_div of the channels take the next frame, the next
    1/fold_div the previous frame (zeros at clip borders), the rest stay. The ``tsm_*`` baselines use it."""

    def __init__(self, num_segments: int, fold_div: int = 8) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.fold_div = fold_div

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        nt, channels = frames.shape[:2]
        fold = channels // self.fold_div
        clips = frames.view(nt // self.num_segments, self.num_segments, *frames.shape[1:])  # [N, T, C, H, W]
        shifted = torch.zeros_like(clips)
        shifted[:, :-1, :fold] = clips[:, 1:, :fold]
        shifted[:, 1:, fold:2 * fold] = clips[:, :-1, fold:2 * fold]
        shifted[:, :, 2 * fold:] = clips[:, :, 2 * fold:]
        return shifted.view(frames.shape)  # [N*T, C, H, W]


def temporal_taps(clips: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Depthwise temporal conv (kernel 3, zero padding) as shifted multiply-adds: ``clips`` ``[N, T, C, H, W]``,
    ``taps`` ``[C, 3]`` weighting frames t-1, t, t+1."""
    channels = clips.shape[2]
    previous, current, following = (taps[:, k].view(1, 1, channels, 1, 1) for k in range(3))
    out = clips * current  # [N, T, C, H, W]
    out[:, 1:].addcmul_(clips[:, :-1], previous)
    out[:, :-1].addcmul_(clips[:, 1:], following)
    return out


class TemporalConvTaps(torch.autograd.Function):
    """:func:`temporal_taps` as one traced op (``prim::PythonOp.TemporalConvTaps``), which the fvcore handle of
    ``common.engine.model_info`` counts as the conv it computes. The backward differentiates the same multiply-adds
    again (bitwise the gradients of calling ``temporal_taps`` directly)."""

    @staticmethod
    def forward(ctx, clips: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(clips, taps)
        return temporal_taps(clips, taps)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        clips, taps = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        with torch.enable_grad():
            inputs = (clips.detach().requires_grad_(needs[0]), taps.detach().requires_grad_(needs[1]))
            wanted = [tensor for tensor, need in zip(inputs, needs) if need]
            grads = iter(torch.autograd.grad(temporal_taps(*inputs), wanted, grad) if wanted else ())
        return tuple(next(grads) if need else None for need in needs)


class TemporalInteraction(nn.Module):
    """TIM: a learnable depthwise temporal conv (kernel 3) initialised as TSM's 1/8 shift.

    The weight is ``[C, 1, 3, 1, 1]`` (the reference stores the same taps as a Conv1d weight ``[C, 1, 3]``).
    It is an ordinary weight: trained, weight-decayed, so the shift drifts during training as in the reference.

    Two evaluations of the same conv, chosen by the memory layout of the frames: with channels-last frames the
    ``[N, C, T, H, W]`` view is already channels-last-3d, so one Conv3d runs without copies; with NCHW frames that
    view would need a transposed copy, so the three taps are applied as shifted multiply-adds on the
    ``[N, T, C, H, W]`` view instead (3x faster there, :class:`TemporalConvTaps`). fvcore counts both forms as the
    reference's Conv1d (3 multiply-adds per output element).
    """

    def __init__(self, channels: int, num_segments: int, fold_div: int = 8) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.conv = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0), groups=channels, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(shift_kernel(channels, fold_div))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        nt, channels, height, width = frames.shape
        clips = frames.view(nt // self.num_segments, self.num_segments, channels, height, width)  # [N, T, C, H, W]
        if frames.is_contiguous():
            taps = self.conv.weight.view(channels, 3).to(frames.dtype)  # [C, 3]: frames t-1, t, t+1
            out = TemporalConvTaps.apply(clips, taps)  # [N, T, C, H, W]
            return out.view(nt, channels, height, width)  # [N*T, C, H, W]
        out = self.conv(clips.permute(0, 2, 1, 3, 4))  # [N, C, T, H, W]
        return out.permute(0, 2, 1, 3, 4).reshape(nt, channels, height, width)  # [N*T, C, H, W]


class MotionAccumulation(nn.Module):
    """MAM: squeeze to C/64 channels (1x1 conv + BN, no activation), accumulate forward in time
    ``a_t = (b_t + alpha * b_{t+1}) / (1 + alpha)`` with the last frame passed through, expand back (1x1 conv).

    ``alpha`` is a fixed constant (0.5), as in the reference; it is neither learnt nor saved.
    """

    def __init__(self, channels: int, num_segments: int, reduction: int = 64, alpha: float = 0.5) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.alpha = alpha
        squeezed = max(1, channels // reduction)  # max() only matters for the narrow non-paper variants
        self.squeeze = nn.Conv2d(channels, squeezed, 1, bias=False)
        self.squeeze_bn = nn.BatchNorm2d(squeezed)
        self.expand = nn.Conv2d(squeezed, channels, 1, bias=False)

    def accumulate(self, squeezed: torch.Tensor) -> torch.Tensor:
        """The forward weighted average over time on ``[N*T, c, H, W]``."""
        nt = squeezed.shape[0]
        clips = squeezed.view(nt // self.num_segments, self.num_segments, *squeezed.shape[1:])  # [N, T, c, H, W]
        current, following = clips[:, :-1], clips[:, 1:]
        accumulated = (current + self.alpha * following) / (1.0 + self.alpha)  # [N, T-1, c, H, W]
        clips = torch.cat((accumulated, clips[:, -1:]), dim=1)  # [N, T, c, H, W]
        return clips.reshape(squeezed.shape)  # [N*T, c, H, W]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.expand(self.accumulate(self.squeeze_bn(self.squeeze(frames))))


class MotionSelection(nn.Module):
    """MSM: per-position, per-channel softmax selection between the motion features (MAM output) and the
    original features, from their temporal means.

    ``s = mean_t(motion) + mean_t(original)``; ``h = ReLU(BN(grouped 3x3 conv C -> C/4))``;
    ``g = grouped 3x3 conv C/4 -> 2C``; ``(w0, w1) = softmax over the two halves of g``;
    ``out = w0 * motion + w1 * original``, the weights broadcast over all frames.

    The reference runs these convs as Conv3d with kernel (1, 3, 3) on a length-1 time axis; here they are the
    equal Conv2d (the converter drops the unit axis). A softmax over two logits is ``sigmoid(g0 - g1)``, so the
    weighted sum is one ``lerp``.

    ``reference_single_clip_bn_skip`` reproduces a reference bug: when a device holds one clip (N == 1), BN and
    ReLU are skipped, in training and eval alike. Off by default (the layer then behaves the same for any batch).
    """

    def __init__(self, channels: int, num_segments: int, reduction: int = 4, groups: int = 4,
                 reference_single_clip_bn_skip: bool = False) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.reference_single_clip_bn_skip = reference_single_clip_bn_skip
        hidden = channels // reduction
        self.reduce = nn.Conv2d(channels, hidden, 3, padding=1, groups=groups, bias=False)
        self.reduce_bn = nn.BatchNorm2d(hidden)
        self.select = nn.Conv2d(hidden, 2 * channels, 3, padding=1, groups=groups, bias=False)

    def selection_weights(self, motion: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        """Weight of the motion branch, ``[N, 1, C, H, W]`` (the original branch gets one minus it)."""
        nt, channels, height, width = original.shape
        num_clips = nt // self.num_segments
        pooled = (motion.view(num_clips, self.num_segments, channels, height, width).mean(1)
                  + original.view(num_clips, self.num_segments, channels, height, width).mean(1))  # [N, C, H, W]
        hidden = self.reduce(pooled)  # [N, C/4, H, W]
        if not (self.reference_single_clip_bn_skip and num_clips == 1):
            hidden = F.relu(self.reduce_bn(hidden))
        logits = self.select(hidden).view(num_clips, 2, channels, height, width)  # [N, 2, C, H, W]
        return torch.sigmoid(logits[:, 0] - logits[:, 1]).unsqueeze(1)  # [N, 1, C, H, W]

    def forward(self, motion: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        nt, channels, height, width = original.shape
        shape5d = (nt // self.num_segments, self.num_segments, channels, height, width)
        motion_weight = self.selection_weights(motion, original)
        mixed = torch.lerp(original.view(shape5d), motion.view(shape5d), motion_weight)  # [N, T, C, H, W]
        return mixed.view(nt, channels, height, width)  # [N*T, C, H, W]


class Bottleneck(nn.Module):
    """ResNet bottleneck with an optional temporal stage.

    ``temporal="mas"``: the MAS block (MAM, MSM, TIM between conv1 and the 3x3 conv; every conv with a bias, as
    the reference). ``"shift"``: TSM, shift of the block input on the residual branch. ``"none"``: TSN.
    """

    def __init__(self, in_channels: int, planes: int, stride: int, num_segments: int, temporal: str,
                 conv_bias: bool, mam_reduction: int = 64, reference_single_clip_bn_skip: bool = False) -> None:
        super().__init__()
        out_channels = planes * EXPANSION
        self.temporal = temporal
        self.shift = TemporalShift(num_segments) if temporal == "shift" else None
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=conv_bias)
        self.bn1 = nn.BatchNorm2d(planes)
        if temporal == "mas":
            self.mam = MotionAccumulation(planes, num_segments, reduction=mam_reduction)
            self.msm = MotionSelection(planes, num_segments,
                                       reference_single_clip_bn_skip=reference_single_clip_bn_skip)
            self.tim = TemporalInteraction(planes, num_segments)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=conv_bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=conv_bias)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=conv_bias),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        identity = frames if self.downsample is None else self.downsample(frames)
        out = self.shift(frames) if self.shift is not None else frames
        out = F.relu(self.bn1(self.conv1(out)), inplace=True)
        if self.temporal == "mas":
            out = self.tim(self.msm(self.mam(out), out))
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        out += identity
        return F.relu(out, inplace=True)


@dataclass(frozen=True)
class MASNetConfig:
    """Architecture of one variant (the ``arch`` of its ``VARIANTS`` entry) plus the training-time switches
    ``dropout``, ``partial_bn`` and ``reference_single_clip_bn_skip`` that ``build_model`` takes as overrides."""

    depths: tuple[int, ...] = (3, 4, 6, 3)
    width: int = 64  # stem channels and layer1 planes; later stages double
    temporal: str = "mas"  # "mas" | "shift" | "none"
    conv_bias: bool = True
    mam_reduction: int = 64
    dropout: float = 0.5
    partial_bn: bool = False
    reference_single_clip_bn_skip: bool = False


class MASNet(nn.Module):
    """TSN-style ResNet on every frame with MAS / shift / no temporal blocks, dropout, new fc, mean consensus.

    ``forward(x)``: ``x`` float ``[B, 3, T, H, W]`` (normalised) -> logits ``[B, num_classes]``.
    ``frame_logits(x)``: the per-frame logits ``[B, T, num_classes]`` before consensus.
    """

    def __init__(self, config: MASNetConfig, num_classes: int, num_segments: int = 8) -> None:
        super().__init__()
        if config.temporal not in ("mas", "shift", "none"):
            raise ValueError(f"temporal must be 'mas', 'shift' or 'none', got {config.temporal!r}")
        self.config = config
        self.num_segments = num_segments
        self.num_classes = num_classes
        self.partial_bn = config.partial_bn
        width = config.width
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=config.conv_bias)
        self.bn1 = nn.BatchNorm2d(width)
        in_channels = width
        for stage, depth in enumerate(config.depths):
            planes = width * 2 ** stage
            blocks = []
            for index in range(depth):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(Bottleneck(in_channels, planes, stride, num_segments, config.temporal,
                                         config.conv_bias, config.mam_reduction,
                                         config.reference_single_clip_bn_skip))
                in_channels = planes * EXPANSION
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
        self.num_features = in_channels
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(in_channels, num_classes)
        self._init_weights()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.config.depths))]

    def _init_weights(self) -> None:
        # Reference init: fan-out normal for the ResNet and MAM 2D convs, conv biases left at PyTorch's default,
        # BN (1, 0); MSM convs keep PyTorch's default (they are Conv3d there, not reached by its init loop);
        # TIM keeps its shift; the new fc is N(0, 0.001^2) with zero bias.
        msm_convs = {id(m) for block in self.modules() if isinstance(block, MotionSelection)
                     for m in (block.reduce, block.select)}
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and id(module) not in msm_convs:
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def _frozen_bns(self) -> list[nn.BatchNorm2d]:
        """Partial BN (TSN): every BN but the stem's. MSM's BN keeps batch statistics, as in the reference (where
        it is a BatchNorm3d that the BatchNorm2d freeze skips) but its affine weights are not trained there."""
        msm_bns = {id(m.reduce_bn) for m in self.modules() if isinstance(m, MotionSelection)}
        return [m for m in self.modules()
                if isinstance(m, nn.BatchNorm2d) and m is not self.bn1 and id(m) not in msm_bns]

    def train(self, mode: bool = True) -> "MASNet":
        """Normal ``nn.Module.train`` semantics (the reference's defaulted to eval), plus partial BN if enabled."""
        super().train(mode)
        if self.partial_bn and mode:
            for bn in self._frozen_bns():
                bn.eval()
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d) and module is not self.bn1:
                    module.weight.requires_grad_(False)
                    module.bias.requires_grad_(False)
        return self

    def to_frames(self, clips: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` -> ``[B*T, 3, H, W]``: channels-last frames (a view) from a channels-last-3d clip
        (``--channels-last``), NCHW frames otherwise. The layout then stays through the network."""
        batch, channels, frames, height, width = clips.shape
        if frames != self.num_segments:
            raise ValueError(f"model built for num_segments={self.num_segments}, got a clip of {frames} frames; "
                             f"build it with num_segments={frames} (no weight depends on T)")
        return clips.transpose(1, 2).reshape(batch * frames, channels, height, width)  # [B*T, 3, H, W]

    def forward_features(self, clips: torch.Tensor) -> torch.Tensor:
        """Last feature map, ``[B*T, C, H/32, W/32]``."""
        x = self.to_frames(clips)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x)), inplace=True), 3, stride=2, padding=1)  # [B*T, w, H/4, W/4]
        for stage in self.stages:
            x = stage(x)
        return x

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Per-frame logits ``[B, T, K]`` from the last feature map."""
        # Global mean; the reference pools with a square kernel of the map height, equal for square input.
        pooled = features.mean((2, 3))  # [B*T, C]
        logits = self.fc(self.dropout(pooled))  # [B*T, K]
        return logits.view(-1, self.num_segments, self.num_classes)  # [B, T, K]

    def frame_logits(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(clips))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.frame_logits(clips).mean(1)  # TSN average consensus of logits


# --------------------------------------------------------------------------------------------------------------
# Checkpoint conversion and ImageNet initialisation
# --------------------------------------------------------------------------------------------------------------

# Reference (MAS-Net repo) module names -> ours; applied after dropping "module." and "base_model.".
_REFERENCE_RENAMES = (
    (r"\.MAM\.conv1\.", ".mam.squeeze."),
    (r"\.MAM\.bn1\.", ".mam.squeeze_bn."),
    (r"\.MAM\.conv3\.", ".mam.expand."),
    (r"\.MSM\.conv_fc1\.", ".msm.reduce."),
    (r"\.MSM\.bn_fc1\.", ".msm.reduce_bn."),
    (r"\.MSM\.conv_fc2\.", ".msm.select."),
    (r"\.TIM\.conv\.", ".tim.conv."),
    (r"\.conv1\.net\.", ".conv1."),  # TSM repo: the shifted conv1 is wrapped as ``conv1.net``
    (r"^new_fc\.", "fc."),  # with dropout 0 the reference keeps its classifier as base_model.fc, already "fc."
)


def convert_reference_state_dict(state_dict: dict, variant: str, **overrides) -> dict:
    """Map a reference checkpoint's model weights to ours.

    Accepts the MAS-Net repo's ``state_dict`` (``module.base_model.*`` and ``module.new_fc.*``, 613 tensors for
    R50) for ``masnet_*`` variants, and the TSM repo's (``conv1.net`` wrappers) for ``tsm_*`` / ``tsn_*``; with
    or without ``module.``, or a whole checkpoint dict holding ``state_dict``. MSM weights lose their unit time
    axis, TIM weights gain the two unit spatial axes, missing ``num_batches_tracked`` entries are filled with 0.
    ``overrides``: the same keywords as :func:`build_model` (only ``temporal`` changes what fits).
    """
    config = _config(variant, overrides)
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    converted = {}
    for key, tensor in state_dict.items():
        name = key.removeprefix("module.").removeprefix("base_model.")
        for pattern, replacement in _REFERENCE_RENAMES:
            name = re.sub(pattern, replacement, name)
        if ".msm." in name and name.endswith(".weight") and tensor.dim() == 5:
            tensor = tensor.squeeze(2)  # [O, I, 1, 3, 3] -> [O, I, 3, 3]
        elif ".tim.conv.weight" in name and tensor.dim() == 3:
            tensor = tensor[..., None, None]  # [C, 1, 3] -> [C, 1, 3, 1, 1]
        converted[name] = tensor
    for name in list(converted):
        if name.endswith(".running_mean"):
            converted.setdefault(name.removesuffix("running_mean") + "num_batches_tracked",
                                 torch.tensor(0, dtype=torch.long))
    is_mas = any(".mam." in name for name in converted)
    if is_mas != (config.temporal == "mas"):
        kind = "a MAS-Net" if is_mas else "a TSN/TSM"
        raise ValueError(f"the state dict is {kind} checkpoint, which does not fit variant {variant!r}")
    return converted


def _expected_missing_from_imagenet(name: str) -> bool:
    """Weights a torchvision ResNet file does not have: our classifier, the MAS modules, the conv biases."""
    return (name.startswith("fc.") or any(f".{m}." in name for m in ("mam", "msm", "tim"))
            or re.search(r"(^conv1|\.conv[123]|\.downsample\.0)\.bias$", name) is not None
            or name.endswith("num_batches_tracked"))


def load_imagenet_resnet(model: MASNet, path: str | Path, log: Callable[[str], None] = print) -> list[str]:
    """Initialise the ResNet part of ``model`` from a torchvision ResNet state dict file (``--pretrained PATH``),
    e.g. ``resnet50-19c8e357.pth`` / ``resnet50-0676ba61.pth`` (IMAGENET1K_V1) or ``resnet101-5d3b4d8f.pth``.

    The 1000-class fc is dropped. Unlike the reference's silent ``strict=False``, raises ``CheckpointError`` if
    the file is absent, if any of its keys is unused or has another shape, or if any of ours is missing other than
    those a torchvision file cannot have (conv biases, MAM / MSM / TIM, the classifier). Returns the keys left at
    their initialisation.
    """
    if not Path(path).is_file():
        raise CheckpointError(
            f"ImageNet ResNet weights not found: {path}. Nothing is downloaded at run time; fetch e.g. "
            "https://download.pytorch.org/models/resnet50-0676ba61.pth once and pass its path with --pretrained.")
    weights = {k: v for k, v in unwrap_state_dict(load_checkpoint(path)).items() if not k.startswith("fc.")}
    load_state_dict_verbose(model, weights, strict=True, log=log, ignore_missing=_expected_missing_from_imagenet)
    log(f"ImageNet init from {path}: {len(weights)} tensors loaded")
    return [k for k in model.state_dict() if k not in weights]


# --------------------------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------------------------

_SPEC = "shared/specs/masnet.md section 3 (reference code b86e599c, fvcore 0.1.5, one clip)"
_MEASURED = "reference code b86e599c built by projects/masnet/reference.py, fvcore, one clip"
_TORCHVISION = "torchvision resnet50 with a 174-class fc on 8 frames (the TSM repo's TSN/TSM backbone), fvcore"
_R50, _R101 = (3, 4, 6, 3), (3, 4, 23, 3)
_TINY = dict(depths=(1, 1, 1, 1), width=16)  # not from the paper: one block per stage, 16-channel stem
_NOT_PAPER = "not from the paper: tests, CI and the CPU demo"

VARIANTS: dict[str, Variant] = variant_table(
    Variant("masnet_r50", arch=dict(depths=_R50), num_classes=174, num_frames=8, input_size=224,
            reference_params=26_065_732, reference_gflops=33.55, source=_SPEC),
    Variant("masnet_r101", arch=dict(depths=_R101), num_classes=174, num_frames=8, input_size=224,
            reference_params=47_014_220, reference_gflops=63.77, source=_MEASURED),
    Variant("tsn_r50", arch=dict(depths=_R50, temporal="none", conv_bias=False), num_classes=174, num_frames=8,
            input_size=224, reference_params=23_864_558, reference_gflops=32.88, source=_TORCHVISION),
    Variant("tsm_r50", arch=dict(depths=_R50, temporal="shift", conv_bias=False), num_classes=174, num_frames=8,
            input_size=224, reference_params=23_864_558, reference_gflops=32.88,
            source=_TORCHVISION + "; the shift costs no FLOPs"),
    Variant("masnet_tiny", arch=_TINY, num_classes=10, num_frames=8, input_size=64, paper=False, source=_NOT_PAPER),
    Variant("tsn_tiny", arch=dict(_TINY, temporal="none", conv_bias=False), num_classes=10, num_frames=8,
            input_size=64, paper=False, source=_NOT_PAPER),
    Variant("tsm_tiny", arch=dict(_TINY, temporal="shift", conv_bias=False), num_classes=10, num_frames=8,
            input_size=64, paper=False, source=_NOT_PAPER),
)


def _config(variant: str, overrides: dict) -> MASNetConfig:
    """The variant's ``MASNetConfig`` with ``overrides`` (``MASNetConfig`` fields) applied; the builder's
    keywords that are not architecture (``num_frames``, ``num_segments``, ``pretrained``) are ignored here."""
    arch = lookup(VARIANTS, variant, "MAS-Net").arch
    fields = {k: v for k, v in overrides.items() if k not in ("num_frames", "num_segments", "pretrained")}
    unknown = set(fields) - set(MASNetConfig.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown options for {variant}: {sorted(unknown)}; valid: "
                        f"{sorted(MASNetConfig.__dataclass_fields__)}")
    return MASNetConfig(**{**arch, **fields})


def build_model(variant: str, num_classes: int | None = None, *, num_frames: int | None = None,
                num_segments: int | None = None, pretrained: str | Path | None = None, **overrides) -> MASNet:
    """Build a variant of ``VARIANTS``.

    Args:
        variant: a name of ``VARIANTS`` (others raise ``UnknownVariantError`` listing the valid names).
        num_classes: classifier size; None takes the variant's (174, Something-Something).
        num_frames: clip length T the model is built for (no weight depends on it); None takes the variant's.
        num_segments: the TSM / MAS-Net repo's name of ``num_frames``, kept as an alias.
        pretrained: a torchvision ImageNet ResNet file to initialise the backbone from.
        overrides: ``MASNetConfig`` fields (``dropout``, ``partial_bn``, ``reference_single_clip_bn_skip``, ...).
    """
    if num_segments is not None and num_frames is not None and num_segments != num_frames:
        raise ValueError(f"num_frames={num_frames} and its alias num_segments={num_segments} disagree")
    cfg = lookup(VARIANTS, variant, "MAS-Net")
    config = _config(variant, overrides)
    frames = num_frames or num_segments or cfg.num_frames
    model = MASNet(config, cfg.num_classes if num_classes is None else num_classes, frames)
    if pretrained is not None:
        load_imagenet_resnet(model, pretrained)
    return model
