"""The data pipeline of the ST-ABN reference (MMAction v1 / TPN), with each of its quirks behind a flag.

Worker side (``uint8 [T, 3, H, W]`` RGB, one random draw per clip from the sample's generator):

* :class:`MMActionV1RandomResizedCrop`: the reference's training crop, taken on the raw frame (no resize first):
  area ``U(0.08, 1)``, aspect ``U(3/4, 4/3)`` (uniform, not log-uniform), width and height swapped with p = 0.5,
  10 attempts, then a centred square. ``reference_axes=True`` reproduces its axis mix-up (spec Q10): the width is
  checked against the image height and the height against the width, the x offset is drawn from the crop height's
  range and the y offset from the crop width's, and a box running past the border is clipped (so about a third of
  the crops shrink and change aspect). Off by default: a box is drawn inside the frame.
* :class:`MMActionV1Rescale`: ``mmcv.imrescale`` to a short side (rounded sizes, bilinear, no antialiasing).
* :class:`STABNSegmentSampler`: MMAction v1 ``RawFramesDataset`` sampling (``common.data`` ``mmaction_v0`` dialect),
  whose ``_32`` setting feeds a video of at most 32 frames (fewer than 32 in training) as 32 copies of its first
  frame (spec Q5); ``reference_short_video=False`` (the default) spreads the segments over the short video instead.

Device side (the batch, float, on the GPU): :class:`TPNColorJitter` + normalisation, as :class:`STABNPreprocess`.
The reference jitters BGR float images in the 0-255 scale without clipping, so the jitter runs after the uint8 batch
reaches the device and before normalisation, never clipped either.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as F

from common.data.device_transforms import Normalize
from common.data.samplers import TSNSegmentSampler

Sample = dict[str, Any]

# AlexNet PCA lighting in the 0-255 scale, RGB (eigenvector j in column j), as TPN's GroupColorJitter.
PCA_EIGVAL = (55.46, 4.794, 1.148)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009),
              (-0.5808, -0.0045, -0.8140),
              (-0.5836, -0.6948, 0.4203))
LUMA = (0.299, 0.587, 0.114)
RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.321), (0.211, -0.523, 0.311))
YIQ_TO_RGB = ((1.0, 0.956, 0.621), (1.0, -0.272, -0.647), (1.0, -1.107, 1.705))


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _randint_inclusive(generator: torch.Generator, low: int, high: int) -> int:
    """Python's ``random.randint``: uniform in ``[low, high]``."""
    return int(torch.randint(low, high + 1, (), generator=generator))


class MMActionV1RandomResizedCrop:
    """The reference's ``RandomResizedCrop`` (TPN ``transforms.py``) on the raw frame, resized to ``size x size``
    bilinearly without antialiasing (``cv2.resize``); see the module docstring for ``reference_axes``."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), reference_axes: bool = False) -> None:
        self.size, self.scale, self.ratio, self.reference_axes = size, scale, ratio, reference_axes

    def box(self, height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
        """``(top, left, box_height, box_width)`` of the crop, inside the frame."""
        for _ in range(10):
            target_area = _uniform(generator, *self.scale) * height * width
            aspect = _uniform(generator, *self.ratio)
            box_w = int(round(math.sqrt(target_area * aspect)))
            box_h = int(round(math.sqrt(target_area / aspect)))
            if _uniform(generator, 0.0, 1.0) < 0.5:
                box_w, box_h = box_h, box_w
            if self.reference_axes:
                if box_w <= height and box_h <= width:
                    left = _randint_inclusive(generator, 0, width - box_h)
                    top = _randint_inclusive(generator, 0, height - box_w)
                    # mmcv.imcrop clips the box to the frame
                    return top, left, min(box_h, height - top), min(box_w, width - left)
            elif box_w <= width and box_h <= height:
                return (_randint_inclusive(generator, 0, height - box_h),
                        _randint_inclusive(generator, 0, width - box_w), box_h, box_w)
        side = min(height, width)
        return (height - side) // 2, (width - side) // 2, side, side

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        clip = sample["clip"]  # [T, 3, H, W]
        top, left, box_h, box_w = self.box(clip.shape[-2], clip.shape[-1], generator)
        cropped = clip[..., top:top + box_h, left:left + box_w]  # [T, 3, h, w]
        return {**sample, "clip": F.resize(cropped, [self.size, self.size], antialias=False)}

    def __repr__(self) -> str:
        return f"MMActionV1RandomResizedCrop(size={self.size}, reference_axes={self.reference_axes})"


class MMActionV1Rescale:
    """``mmcv.imrescale(img, (inf, size))``: the short side becomes ``size``, sizes rounded, bilinear."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        clip = sample["clip"]  # [T, 3, H, W]
        height, width = clip.shape[-2:]
        factor = self.size / min(height, width)
        new_size = [int(height * factor + 0.5), int(width * factor + 0.5)]
        if new_size == [height, width]:
            return sample
        return {**sample, "clip": F.resize(clip, new_size, antialias=False)}


class STABNSegmentSampler(TSNSegmentSampler):
    """``TSNSegmentSampler(dialect="mmaction_v0")`` with the choice of short-video rule for single-frame segments.

    ``reference_short_video=True``: the reference's rule (spec 4.2, Q5): every segment takes the first frame when a
    training video has fewer frames than segments, or a validation video at most as many. False (default): the
    segments are spread over the video as for long ones, repeating frames (validation: the centres
    ``int(tick / 2 + tick * k)``, ``tick = N / T``, which MMAction v1's never-reached test mode used; training: one
    uniform position inside each segment, ``int(tick * (k + u))``).
    """

    def __init__(self, num_segments: int, *, reference_short_video: bool = False, **kwargs: Any) -> None:
        super().__init__(num_segments, dialect="mmaction_v0", **kwargs)
        self.reference_short_video = reference_short_video

    def _spread(self, num_frames: int) -> bool:
        return not self.reference_short_video and self.new_length == 1 and not self.dense_sample

    def train_indices(self, num_frames: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
        if self._spread(num_frames) and num_frames < self.num_segments:
            tick = num_frames / self.num_segments
            positions = tick * (np.arange(self.num_segments) + rng.random(self.num_segments))
            return np.minimum(positions.astype(np.int64), num_frames - 1)
        return super().train_indices(num_frames, rng, fps)

    def test_indices(self, num_frames: int, clip_index: int, fps: float | None = None) -> np.ndarray:
        if self._spread(num_frames) and self.test_rule == "val" and num_frames <= self.num_segments:
            return self._segment_centres(num_frames / self.num_segments)
        return super().test_indices(num_frames, clip_index, fps)


class TPNColorJitter:
    """TPN's ``GroupColorJitter(color_space_aug=True)`` with its PCA lighting, on a float batch ``[B, 3, T, H, W]``
    of RGB values in the 0-255 scale (not clipped, as the reference).

    Per clip: brightness ``delta ~ U(-32, 32)``, contrast and saturation ``alpha ~ U(0.6, 1.4)``, hue angle
    ``alpha * pi`` with ``alpha ~ U(-18, 18)``, then lighting ``eigvec @ (N(0, 0.1^2) * eigval)`` added. Each of the
    four colour operations happens with probability 1/2 (brightness first; contrast is a scalar factor, so the
    reference's random order of contrast against saturation-then-hue does not change the result).

    ``reference_per_frame=True`` reproduces spec Q11: every frame tosses its own coins (the clip flickers), and the
    saturation grey weights and the YIQ hue rotation, written for RGB, act on BGR channels. Default: one set of
    coins per clip, RGB weights. Random draws come from the global torch RNG (checkpointed by the engine).
    """

    def __init__(self, reference_per_frame: bool = False) -> None:
        self.reference_per_frame = reference_per_frame

    def draw(self, batch: int, frames: int) -> dict[str, torch.Tensor]:
        """The random parameters of a batch: per clip ``delta``, ``contrast``, ``saturation``, ``hue`` (the factor
        of pi), ``lighting`` (3 PCA weights) and ``coins`` ``[4, B, T or 1]`` (brightness, contrast, saturation,
        hue; one per frame with ``reference_per_frame``)."""
        draws = torch.rand(batch, 4, dtype=torch.float64)
        return {"delta": draws[:, 0] * 64 - 32, "contrast": draws[:, 1] * 0.8 + 0.6,
                "saturation": draws[:, 2] * 0.8 + 0.6, "hue": draws[:, 3] * 36 - 18,
                "coins": torch.rand(4, batch, frames if self.reference_per_frame else 1, dtype=torch.float64) > 0.5,
                "lighting": torch.randn(batch, 3, dtype=torch.float64) * 0.1}

    def colour_maps(self, params: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Each clip's (and frame's) jitter as ``y = linear @ x + offset``: ``[B, T', 3, 3]`` and ``[B, T', 3]``."""
        batch = params["delta"].shape[0]
        coins = params["coins"]  # [4, B, T']
        eye = torch.eye(3, dtype=torch.float64)
        grey = torch.ones(3, 1, dtype=torch.float64) * torch.tensor(LUMA, dtype=torch.float64)  # rows: luma weights
        saturation = params["saturation"].view(batch, 1, 1, 1)
        sat = saturation * eye + (1 - saturation) * grey  # [B, 1, 3, 3]
        angle = params["hue"].view(batch, 1) * math.pi
        rotation = torch.zeros(batch, 1, 3, 3, dtype=torch.float64)
        rotation[..., 0, 0] = 1.0
        rotation[..., 1, 1], rotation[..., 1, 2] = torch.cos(angle), -torch.sin(angle)
        rotation[..., 2, 1], rotation[..., 2, 2] = torch.sin(angle), torch.cos(angle)
        hue = torch.tensor(YIQ_TO_RGB, dtype=torch.float64) @ rotation @ torch.tensor(RGB_TO_YIQ, dtype=torch.float64)
        if self.reference_per_frame:  # RGB matrices applied to BGR pixels: conjugate by the channel reversal
            reverse = eye.flip(0)
            sat, hue = reverse @ sat @ reverse, reverse @ hue @ reverse
        sat = torch.where(coins[2, ..., None, None], sat, eye)  # [B, T', 3, 3]
        hue = torch.where(coins[3, ..., None, None], hue, eye)
        contrast = params["contrast"].view(batch, 1)
        scale = torch.where(coins[1], contrast, torch.ones_like(contrast))  # [B, T']
        linear = hue @ sat * scale[..., None, None]  # [B, T', 3, 3]
        delta = params["delta"].view(batch, 1)
        shift = torch.where(coins[0], delta, torch.zeros_like(delta))  # [B, T']: brightness comes first
        light = (torch.tensor(PCA_EIGVEC, dtype=torch.float64) * params["lighting"][:, None, :]
                 * torch.tensor(PCA_EIGVAL, dtype=torch.float64)).sum(-1)  # [B, 3] RGB offsets
        offset = linear.sum(-1) * shift[..., None] + light[:, None, :]  # [B, T', 3]: linear @ (shift * 1) + light
        return linear, offset

    def apply(self, clips: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        batch, _, frames = clips.shape[:3]
        linear, offset = self.colour_maps(params)
        linear = linear.to(clips).expand(batch, frames, 3, 3)  # [B, T, 3, 3]
        offset = offset.to(clips).expand(batch, frames, 3).permute(0, 2, 1)  # [B, 3, T]
        return torch.einsum("btij,bjthw->bithw", linear, clips) + offset[..., None, None]  # [B, 3, T, H, W]

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        return self.apply(clips, self.draw(clips.shape[0], clips.shape[2]))

    def __repr__(self) -> str:
        return f"TPNColorJitter(reference_per_frame={self.reference_per_frame})"


class STABNPreprocess:
    """Device-side preprocessing: uint8 ``[B, 3, T, H, W]`` RGB -> (training only) :class:`TPNColorJitter` in the
    0-255 scale -> ``(x - mean) / std``. ``(clip, labels, train) -> (model input, labels)``, the engine's contract."""

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float],
                 jitter: TPNColorJitter | None = None) -> None:
        self.normalize = Normalize(mean, std)
        self.jitter = jitter

    def __call__(self, clip: torch.Tensor, labels: Any, train: bool) -> tuple[torch.Tensor, Any]:
        if clip.dtype != torch.uint8:
            raise ValueError(f"expected a uint8 clip batch [B, 3, T, H, W] from the loader, got {clip.dtype}")
        if not (train and self.jitter is not None):
            return self.normalize(clip), labels
        jittered = self.jitter(clip.float())  # [B, 3, T, H, W], 0-255 scale, unclipped
        return self.normalize(jittered.div_(255.0)), labels  # Normalize takes a float clip in [0, 1] scale
