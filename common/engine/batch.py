"""From a loader batch to the model input, on the device.

A batch from the data pipeline is ``{"clip": uint8 [B, 3, T, H, W], "label": tensor or dict of tensors,
"video_index", "view_index"}``. The engine copies it to the device (non-blocking, pinned memory) and calls a
*preprocess* function ``(uint8 clip, labels, train) -> (model input, targets)``; :class:`ClipPreprocessor` is the
standard one (normalise, then train-only augmentation and mixup from ``common.data.device_transforms``).
:func:`convert_memory_format` puts a model's conv weights in the ``--channels-last`` layout.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from common.data.device_transforms import Normalize

Preprocess = Callable[[torch.Tensor, Any, bool], tuple[torch.Tensor, Any]]


def move_to_device(value: Any, device: torch.device) -> Any:
    """Tensors (also inside dicts / lists) to ``device`` with non-blocking copies."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: move_to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(move_to_device(v, device) for v in value)
    return value


class ClipPreprocessor:
    """Device-side batch preparation: uint8 clip -> normalised float, then train-only augmentation.

    Args:
        mean, std: per-channel statistics of pixels scaled to [0, 1] (``common.data.device_transforms`` has the
            papers' constants: ``IMAGENET_*`` for TSM / MAS-Net, ``HALF_*`` for Motionformer, ``SLOWFAST_*``).
        bgr: reverse the channel order first (Motionformer's EPIC-Kitchens models were trained on BGR).
        train_transforms: ``float clips -> float clips`` applied in training only, in order.
        mixup: ``(float clips, labels) -> (clips, soft targets)`` in training only (e.g. ``MixupCutmix``).

    Random draws come from the global torch RNG, which checkpoints capture, so resumed runs repeat them.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], bgr: bool = False,
                 train_transforms: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = (),
                 mixup: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]] | None = None) -> None:
        self.normalize = Normalize(mean, std)
        self.bgr = bgr
        self.train_transforms = tuple(train_transforms)
        self.mixup = mixup

    def __call__(self, clip: torch.Tensor, labels: Any, train: bool) -> tuple[torch.Tensor, Any]:
        if clip.dtype != torch.uint8:
            raise ValueError(f"expected a uint8 clip batch [B, 3, T, H, W] from the loader, got {clip.dtype}")
        if self.bgr:
            clip = clip.flip(1)
        clip = self.normalize(clip)
        if not train:
            return clip, labels
        for transform in self.train_transforms:
            clip = transform(clip)
        if self.mixup is not None:
            return self.mixup(clip, labels)
        return clip, labels


def convert_memory_format(model: nn.Module) -> None:
    """channels_last for 4-D weights (2-D convs) and channels_last_3d for 5-D weights (3-D convs), in place."""
    for param in model.parameters():
        if param.dim() == 4:
            param.data = param.data.contiguous(memory_format=torch.channels_last)
        elif param.dim() == 5:
            param.data = param.data.contiguous(memory_format=torch.channels_last_3d)
