"""Batch transforms that run on the device, after the uint8 batch has been moved there.

Batches are laid out as the model wants them, ``[B, 3, T, H, W]``. :class:`Normalize` turns uint8 into float;
:class:`MixupCutmix` (timm ``Mixup`` semantics, batch mode) mixes clips and returns soft targets for
:func:`soft_target_cross_entropy`. Random parameters come from an optional CPU ``torch.Generator``.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as torch_f

from common.data.reprs import InitRepr

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "HALF_MEAN", "HALF_STD", "SLOWFAST_MEAN", "SLOWFAST_STD",
           "Normalize", "MixupCutmix", "soft_target_cross_entropy"]

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # TSM, MAS-Net, ST-ABN
HALF_MEAN, HALF_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # Motionformer: pixels in [-1, 1]
SLOWFAST_MEAN, SLOWFAST_STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)  # PySlowFast, MGMA, Efficient SlowFast


class Normalize(InitRepr):
    """``uint8 [B, 3, T, H, W] -> float (x / 255 - mean) / std`` on the batch's device."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 dtype: torch.dtype = torch.float32) -> None:
        if len(mean) != 3 or len(std) != 3:
            raise ValueError("mean and std need one value per RGB channel")
        self.mean, self.std, self.dtype = tuple(mean), tuple(std), dtype

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.ndim != 5 or clips.shape[1] != 3:
            raise ValueError(f"Normalize expects [B, 3, T, H, W], got {tuple(clips.shape)}")
        mean = torch.tensor(self.mean, device=clips.device, dtype=self.dtype).view(1, 3, 1, 1, 1)
        std = torch.tensor(self.std, device=clips.device, dtype=self.dtype).view(1, 3, 1, 1, 1)
        scale = 255.0 if clips.dtype == torch.uint8 else 1.0
        return clips.to(self.dtype).div_(scale).sub_(mean).div_(std)


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets ``[B, C]`` (rows summing to 1), averaged over the batch."""
    return torch.sum(-targets * torch_f.log_softmax(logits, dim=-1), dim=-1).mean()


def _numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    return np.random.default_rng(int(torch.randint(0, 2 ** 62, (), generator=generator)))


class MixupCutmix(InitRepr):
    """timm ``Mixup`` in batch mode: each clip is mixed with the clip at the mirrored batch position.

    With probability ``prob`` a batch is mixed: cutmix with probability ``switch_prob`` when both alphas are set,
    lambda ~ Beta(alpha, alpha); cutmix pastes one box (side ``sqrt(1 - lambda)`` of the frame, centre uniform,
    clipped at the border, the same box in every frame) and corrects lambda to the pasted area. Targets are
    label-smoothed one-hots (``smoothing / C`` off, ``1 - smoothing + smoothing / C`` on) mixed with the same lambda.
    """

    def __init__(self, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0, label_smoothing: float = 0.1,
                 num_classes: int = 1000, prob: float = 1.0, switch_prob: float = 0.5) -> None:
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ValueError("mixup_alpha and cutmix_alpha must be non-negative")
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.label_smoothing, self.num_classes = label_smoothing, num_classes
        self.prob, self.switch_prob = prob, switch_prob

    def soft_targets(self, labels: torch.Tensor, lam: float) -> torch.Tensor:
        off = self.label_smoothing / self.num_classes
        on = 1.0 - self.label_smoothing + off
        one_hot = torch.full((labels.shape[0], self.num_classes), off, device=labels.device)
        one_hot.scatter_(1, labels.long().view(-1, 1), on)  # [B, C]
        return one_hot * lam + one_hot.flip(0) * (1.0 - lam)

    def sample_params(self, rng: np.random.Generator) -> tuple[float, bool]:
        """``(lambda, use_cutmix)`` for one batch."""
        if rng.random() >= self.prob or (self.mixup_alpha == 0 and self.cutmix_alpha == 0):
            return 1.0, False
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            use_cutmix = bool(rng.random() < self.switch_prob)
        else:
            use_cutmix = self.cutmix_alpha > 0
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        return float(rng.beta(alpha, alpha)), use_cutmix

    @staticmethod
    def cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)`` of timm's ``rand_bbox``."""
        ratio = math.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * ratio), int(width * ratio)
        centre_y, centre_x = int(rng.integers(0, height)), int(rng.integers(0, width))
        y0, y1 = np.clip([centre_y - cut_h // 2, centre_y + cut_h // 2], 0, height)
        x0, x1 = np.clip([centre_x - cut_w // 2, centre_x + cut_w // 2], 0, width)
        return int(y0), int(y1), int(x0), int(x1)

    def __call__(self, clips: torch.Tensor, labels: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixed float clips ``[B, 3, T, H, W]`` and soft targets ``[B, C]``."""
        if not clips.is_floating_point():
            raise TypeError("MixupCutmix works on normalised float clips; apply Normalize first")
        rng = _numpy_rng(generator)
        lam, use_cutmix = self.sample_params(rng)
        if lam < 1.0:
            if use_cutmix:
                y0, y1, x0, x1 = self.cutmix_box(clips.shape[-2], clips.shape[-1], lam, rng)
                clips = clips.clone()
                clips[..., y0:y1, x0:x1] = clips.flip(0)[..., y0:y1, x0:x1]
                lam = 1.0 - (y1 - y0) * (x1 - x0) / float(clips.shape[-2] * clips.shape[-1])
            else:
                clips = clips * lam + clips.flip(0) * (1.0 - lam)
        return clips, self.soft_targets(labels, lam)
