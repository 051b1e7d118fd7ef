"""Per-sample clip transforms (run in DataLoader workers) and the test-time crops.

A sample is a dict ``{"clip": uint8 torch [T, 3, H, W], "label": int | dict, ...}``; every transform is called as
``transform(sample, generator)`` and returns a new dict. All randomness comes from the ``torch.Generator``, drawn
once per clip, so every frame gets the same crop, flip and colour change and the result is deterministic given the
generator. The work is done by ``torchvision.transforms.v2.functional`` on the whole ``[T, 3, H, W]`` tensor at once.

Resizing happens on uint8 frames (workers return uint8 clips). PySlowFast resizes normalised float frames without
antialiasing (``antialias=False`` here); TSM resizes PIL images, whose bilinear filter antialiases when shrinking
(``antialias=True``); the difference to the float pipeline is the uint8 rounding (at most one grey level).

Device-side batch transforms (``Normalize``, ``MixupCutmix``, ``soft_target_cross_entropy``)
live in ``common.data.device_transforms`` and RandAugment in ``common.data.randaugment``; both are re-exported here.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Literal, Mapping, Sequence

import torch
import torchvision.transforms.v2.functional as F

from common.data.device_transforms import (IMAGENET_MEAN, IMAGENET_STD, HALF_MEAN, HALF_STD, SLOWFAST_MEAN,
                                           SLOWFAST_STD, MixupCutmix, Normalize,
                                           soft_target_cross_entropy)
from common.data.randaugment import RandAugment
from common.data.reprs import InitRepr

__all__ = [
    "Compose", "ShortSideResize", "ShortSideScaleJitter", "RandomCrop", "RandomResizedCrop", "MultiScaleCrop",
    "RandomHorizontalFlip", "label_swap_map_from_names", "TestCrop", "multi_crop_boxes", "ColorJitter",
    "RandAugment", "Normalize", "MixupCutmix", "soft_target_cross_entropy",
    "IMAGENET_MEAN", "IMAGENET_STD", "HALF_MEAN", "HALF_STD", "SLOWFAST_MEAN", "SLOWFAST_STD",
]

Sample = dict[str, Any]
Transform = Callable[[Sample, torch.Generator], Sample]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _randint(generator: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in ``[low, high)``."""
    return int(torch.randint(low, high, (), generator=generator))


def _with_clip(sample: Sample, clip: torch.Tensor) -> Sample:
    return {**sample, "clip": clip}


def _check_clip(sample: Sample) -> torch.Tensor:
    clip = sample["clip"]
    if clip.ndim != 4 or clip.shape[1] != 3:
        raise ValueError(f"transforms expect a clip of shape [T, 3, H, W], got {tuple(clip.shape)}")
    return clip


class Compose:
    """Apply transforms in order, sharing one generator."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        for transform in self.transforms:
            sample = transform(sample, generator)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def resize_short_side(clip: torch.Tensor, size: int, antialias: bool) -> torch.Tensor:
    """Resize ``[T, 3, H, W]`` so the short side is ``size``; the long side is ``floor(long / short * size)``."""
    height, width = clip.shape[-2:]
    if min(height, width) == size:
        return clip
    if width < height:
        new_height, new_width = int(math.floor(height / width * size)), size
    else:
        new_height, new_width = size, int(math.floor(width / height * size))
    return F.resize(clip, [new_height, new_width], antialias=antialias)


class ShortSideResize(InitRepr):
    """Deterministic short-side resize (validation / test)."""

    def __init__(self, size: int, antialias: bool = False) -> None:
        self.size, self.antialias = size, antialias

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        return _with_clip(sample, resize_short_side(_check_clip(sample), self.size, self.antialias))


class ShortSideScaleJitter(InitRepr):
    """PySlowFast ``random_short_side_scale_jitter``: short side ``round(U(min, max))``, or with ``inverse_uniform``
    (``DATA.INV_UNIFORM_SAMPLE``) ``round(1 / U(1/max, 1/min))``."""

    def __init__(self, min_size: int, max_size: int, inverse_uniform: bool = False, antialias: bool = False) -> None:
        if min_size > max_size:
            raise ValueError(f"min_size {min_size} > max_size {max_size}")
        self.min_size, self.max_size = min_size, max_size
        self.inverse_uniform, self.antialias = inverse_uniform, antialias

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        if self.inverse_uniform:
            size = int(round(1.0 / _uniform(generator, 1.0 / self.max_size, 1.0 / self.min_size)))
        else:
            size = int(round(_uniform(generator, self.min_size, self.max_size)))
        return _with_clip(sample, resize_short_side(_check_clip(sample), size, self.antialias))


class RandomCrop(InitRepr):
    """PySlowFast ``random_crop``: a ``size x size`` crop at ``randint(0, H - size)`` (exclusive upper bound, so the
    bottom/right-most position is never drawn), the same for all frames."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        clip = _check_clip(sample)
        height, width = clip.shape[-2:]
        if height < self.size or width < self.size:
            raise ValueError(f"cannot crop {self.size}x{self.size} from a {height}x{width} clip")
        top = _randint(generator, 0, height - self.size) if height > self.size else 0
        left = _randint(generator, 0, width - self.size) if width > self.size else 0
        return _with_clip(sample, clip[..., top:top + self.size, left:left + self.size])


class RandomResizedCrop(InitRepr):
    """Inception-style crop (PySlowFast ``random_resized_crop``): area ``U(scale)``, aspect log-uniform in ``ratio``,
    10 tries, then the centre crop clipped to ``ratio``; resized bilinearly to ``size x size``."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), antialias: bool = False) -> None:
        self.size, self.scale, self.ratio, self.antialias = size, scale, ratio, antialias

    def box(self, height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
        """``(top, left, box_height, box_width)``."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = _uniform(generator, *self.scale) * area
            aspect = math.exp(_uniform(generator, *log_ratio))
            box_w = int(round(math.sqrt(target_area * aspect)))
            box_h = int(round(math.sqrt(target_area / aspect)))
            if 0 < box_w <= width and 0 < box_h <= height:
                return _randint(generator, 0, height - box_h + 1), _randint(generator, 0, width - box_w + 1), box_h, box_w
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            box_w, box_h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            box_h, box_w = height, int(round(height * max(self.ratio)))
        else:
            box_h, box_w = height, width
        return (height - box_h) // 2, (width - box_w) // 2, box_h, box_w

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        clip = _check_clip(sample)
        top, left, box_h, box_w = self.box(clip.shape[-2], clip.shape[-1], generator)
        cropped = clip[..., top:top + box_h, left:left + box_w]
        return _with_clip(sample, F.resize(cropped, [self.size, self.size], antialias=self.antialias))


def fixed_crop_offsets(image_w: int, image_h: int, crop_w: int, crop_h: int,
                       more_fix_crop: bool = True) -> list[tuple[int, int]]:
    """TSM's ``fill_fix_offset``: ``(x, y)`` offsets on a grid of step ``(dim - crop) // 4``: 4 corners and the centre,
    then (``more_fix_crop``) the 4 edge midpoints and the 4 quarter points, in TSM's order."""
    w_step, h_step = (image_w - crop_w) // 4, (image_h - crop_h) // 4
    offsets = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
    if more_fix_crop:
        offsets += [(0, 2 * h_step), (4 * w_step, 2 * h_step), (2 * w_step, 4 * h_step), (2 * w_step, 0),
                    (w_step, h_step), (3 * w_step, h_step), (w_step, 3 * h_step), (3 * w_step, 3 * h_step)]
    return offsets


class MultiScaleCrop(InitRepr):
    """TSM ``GroupMultiScaleCrop``: crop sides ``int(min(H, W) * s)`` for s in ``scales`` (snapped to ``size`` when
    within 3 px), a (w, h) pair whose scale indices differ by at most ``max_distort``, one of the 13 fixed offsets,
    then a bilinear resize to ``size x size`` (aspect not preserved). Applied to raw frames, no pre-resize."""

    def __init__(self, size: int, scales: Sequence[float] = (1, .875, .75, .66), max_distort: int = 1,
                 more_fix_crop: bool = True, antialias: bool = True) -> None:
        self.size, self.scales, self.max_distort = size, tuple(scales), max_distort
        self.more_fix_crop, self.antialias = more_fix_crop, antialias

    def candidate_boxes(self, height: int, width: int) -> list[tuple[int, int]]:
        """The ``(crop_w, crop_h)`` pairs one draw chooses from."""
        sides = [int(min(height, width) * s) for s in self.scales]
        sides = [self.size if abs(side - self.size) < 3 else side for side in sides]
        return [(crop_w, crop_h) for i, crop_h in enumerate(sides) for j, crop_w in enumerate(sides)
                if abs(i - j) <= self.max_distort]

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        clip = _check_clip(sample)
        height, width = clip.shape[-2:]
        pairs = self.candidate_boxes(height, width)
        crop_w, crop_h = pairs[_randint(generator, 0, len(pairs))]
        offsets = fixed_crop_offsets(width, height, crop_w, crop_h, self.more_fix_crop)
        left, top = offsets[_randint(generator, 0, len(offsets))]
        cropped = clip[..., top:top + crop_h, left:left + crop_w]
        return _with_clip(sample, F.resize(cropped, [self.size, self.size], antialias=self.antialias))


_MIRROR_WORDS = {"left": "right", "right": "left"}


def name_words(name: str) -> tuple[str, ...]:
    """Lower-case words of a class name split on spaces, ``_``, ``-`` and camel case: ``"pushLeft_to-right"`` ->
    ``("push", "left", "to", "right")``. Brackets and other punctuation are dropped (SSv2's ``[something]``)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)  # camel-case humps, runs of capitals, numbers
    return tuple(word.lower() for word in words)


def label_swap_map_from_names(class_names: Sequence[str]) -> dict[int, int]:
    """Pair classes whose names differ only by "left" <-> "right" (Something-Something's "Pulling something from
    left to right" / "... right to left", ``left_to_right`` / ``right_to_left``, ``TurnLeft`` / ``TurnRight``),
    whatever the label order. Names are compared word by word (:func:`name_words`). Returns
    ``{label: mirrored_label}`` in both directions; classes without a mirror are absent."""
    index = {name_words(name): label for label, name in enumerate(class_names)}
    swaps = {}
    for label, name in enumerate(class_names):
        words = name_words(name)
        mirrored = tuple(_MIRROR_WORDS.get(word, word) for word in words)
        if mirrored != words and mirrored in index:
            swaps[label] = index[mirrored]
    return swaps


def direction_classes(class_names: Sequence[str]) -> list[str]:
    """The class names that mention a horizontal direction: a plain flip would turn them into another class."""
    return [name for name in class_names if set(name_words(name)) & set(_MIRROR_WORDS)]


class RandomHorizontalFlip(InitRepr):
    """Flip the whole clip with probability ``p``; with ``label_swap_map`` a flipped clip's label is mirrored too
    (MAS-Net's label-aware flip on Something-Something; TSM and PySlowFast configs disable flipping there)."""

    def __init__(self, p: float = 0.5, label_swap_map: Mapping[int, int] | None = None) -> None:
        self.p, self.label_swap_map = p, dict(label_swap_map or {})

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        if _uniform(generator, 0.0, 1.0) >= self.p:
            return sample
        flipped = _with_clip(sample, F.horizontal_flip(_check_clip(sample)))
        label = sample.get("label")
        if self.label_swap_map and isinstance(label, int):
            flipped["label"] = self.label_swap_map.get(label, label)
        return flipped


def horizontal_flip(mode: str, class_names: Sequence[str] | None, p: float = 0.5,
                    log: Callable[[str], None] = print) -> list[RandomHorizontalFlip]:
    """The training flip for ``--flip {label_swap,plain,none}``, refusing the combinations that corrupt labels.

    ``label_swap`` pairs mirrored classes by name and logs the pairs; it refuses when the names are unknown or no
    pair is found (a flip would then keep labels that it reverses). ``plain`` refuses class names that mention a
    horizontal direction, since flipping such a clip silently turns it into the mirrored class.
    """
    if mode == "none":
        return []
    if mode == "plain":
        sensitive = direction_classes(class_names or [])
        if sensitive:
            raise ValueError(f"--flip plain on direction-sensitive classes ({', '.join(sensitive[:4])}"
                             f"{', ...' if len(sensitive) > 4 else ''}) would flip their meaning and keep the label; "
                             "use --flip label_swap (pairs mirrored classes) or --flip none")
        return [RandomHorizontalFlip(p)]
    if mode != "label_swap":
        raise ValueError(f"unknown flip mode {mode!r}; choose label_swap, plain or none")
    if class_names is None:
        raise ValueError("--flip label_swap needs the class names (a category file) to pair mirrored classes; "
                         "give them, or choose --flip plain / --flip none")
    swaps = label_swap_map_from_names(class_names)
    if not swaps:
        raise ValueError("--flip label_swap found no pair of classes that differ only by left/right; use --flip "
                         "plain when no class depends on direction, or --flip none")
    pairs = sorted((a, b) for a, b in swaps.items() if a < b)
    log(f"flip with label swap: {len(pairs)} mirrored class pairs: "
        + "; ".join(f"{class_names[a]!r} <-> {class_names[b]!r}" for a, b in pairs))
    return [RandomHorizontalFlip(p, swaps)]


CropGeometry = Literal["slowfast", "tsm", "mmaction"]
CROPS_PER_GEOMETRY = {"slowfast": (1, 3), "tsm": (1, 3, 5, 10), "mmaction": (1,)}


def multi_crop_boxes(height: int, width: int, size: int, num_crops: int,
                    geometry: CropGeometry = "slowfast") -> list[tuple[int, int, bool]]:
    """``(top, left, flip)`` of every test crop, in the reference order.

    - slowfast (PySlowFast ``uniform_crop``): 1 crop = centre at ``ceil((dim - size) / 2)``; 3 crops = left, centre,
      right along the long side (top, centre, bottom for portrait frames), centred on the short side.
    - tsm: 1 crop = torchvision ``CenterCrop`` (``round((dim - size) / 2)``); 3 = ``GroupFullResSample``: x at 0,
      4*step, 2*step (left, right, centre), y at 2*step, step ``(dim - size) // 4``; 5 = ``GroupOverSample``
      without flip (upper-left, upper-right, lower-left, lower-right, centre); 10 = those 5, each followed by its
      horizontal mirror.
    - mmaction: 1 crop = centre at ``(dim - size) // 2`` (MMAction ``CenterCrop``, ST-ABN).
    """
    if num_crops not in CROPS_PER_GEOMETRY[geometry]:
        raise ValueError(f"{geometry} test crops support num_crops in {CROPS_PER_GEOMETRY[geometry]}, got {num_crops}")
    if height < size or width < size:
        raise ValueError(f"cannot take {size}x{size} test crops from a {height}x{width} clip")
    if geometry == "slowfast":
        top, left = math.ceil((height - size) / 2), math.ceil((width - size) / 2)
        if num_crops == 1:
            return [(top, left, False)]
        if height > width:
            return [(0, left, False), (top, left, False), (height - size, left, False)]
        return [(top, 0, False), (top, left, False), (top, width - size, False)]
    if geometry == "mmaction":
        return [((height - size) // 2, (width - size) // 2, False)]
    if num_crops == 1:
        return [(int(round((height - size) / 2.0)), int(round((width - size) / 2.0)), False)]
    w_step, h_step = (width - size) // 4, (height - size) // 4
    if num_crops == 3:
        return [(2 * h_step, 0, False), (2 * h_step, 4 * w_step, False), (2 * h_step, 2 * w_step, False)]
    corners = [(y, x) for x, y in fixed_crop_offsets(width, height, size, size, more_fix_crop=False)]
    if num_crops == 5:
        return [(y, x, False) for y, x in corners]
    return [(y, x, flip) for y, x in corners for flip in (False, True)]


class TestCrop(InitRepr):
    """One of the ``num_crops`` test crops (``crop_index``), see :func:`multi_crop_boxes` for each geometry."""

    __test__ = False  # not a pytest class

    def __init__(self, size: int, num_crops: int = 1, crop_index: int = 0, geometry: CropGeometry = "slowfast") -> None:
        if num_crops not in CROPS_PER_GEOMETRY.get(geometry, ()):
            raise ValueError(f"geometry {geometry!r} does not support num_crops={num_crops}")
        if not 0 <= crop_index < num_crops:
            raise IndexError(f"crop_index {crop_index} is outside [0, {num_crops})")
        self.size, self.num_crops, self.crop_index, self.geometry = size, num_crops, crop_index, geometry

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        clip = _check_clip(sample)
        top, left, flip = multi_crop_boxes(clip.shape[-2], clip.shape[-1], self.size, self.num_crops,
                                          self.geometry)[self.crop_index]
        cropped = clip[..., top:top + self.size, left:left + self.size]
        return _with_clip(sample, F.horizontal_flip(cropped) if flip else cropped)


class ColorJitter(InitRepr):
    """Clip-consistent colour jitter: with probability ``p``, brightness, contrast and saturation factors
    ``1 + U(-x, x)`` applied in a random order, then a hue shift ``U(-hue, hue)``, the same for every frame.
    torchvision semantics on uint8 RGB: brightness blends with black, contrast with each frame's mean grey level,
    saturation with the per-pixel grey image. PySlowFast's jitter (Motionformer) works on normalised tensors with
    BGR grey weights, and ST-ABN's is a different recipe; see their specs."""

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4, hue: float = 0.0,
                 p: float = 0.8) -> None:
        self.brightness, self.contrast, self.saturation, self.hue, self.p = brightness, contrast, saturation, hue, p

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        if _uniform(generator, 0.0, 1.0) >= self.p:
            return sample
        clip = _check_clip(sample)
        ops = [(F.adjust_brightness, self.brightness), (F.adjust_contrast, self.contrast),
               (F.adjust_saturation, self.saturation)]
        for position in torch.randperm(len(ops), generator=generator).tolist():
            op, strength = ops[position]
            if strength > 0:
                clip = op(clip, 1.0 + _uniform(generator, -strength, strength))
        if self.hue > 0:
            clip = F.adjust_hue(clip, _uniform(generator, -self.hue, self.hue))
        return _with_clip(sample, clip)
