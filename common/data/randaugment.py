"""timm-style RandAugment for clips, configured by a timm string such as ``rand-m20-mstd0.5-inc1``.

Motionformer uses ``rand-m20-mstd0.5-inc1`` (SSv2) and ``rand-m15-mstd0.5-inc1`` (EPIC). Semantics follow timm's
``rand_augment_transform``: ``n`` ops (default 2) drawn uniformly with replacement; each op applies with probability
``p`` (0.5); its magnitude is ``N(m, mstd)`` clipped to ``[0, mmax]`` (``mmax`` defaults to 10, so m20 and m15
both act as 10); each op maps the magnitude to its argument as timm does and negates it with probability 0.5.

Differences from the reference, on purpose:

- one draw per **clip**: every frame gets the same ops with the same arguments (Motionformer meant this but its
  first frame draws its op choice from a different random state; see its spec, quirk Q17);
- geometric ops use bilinear interpolation on tensors (timm picks bilinear or bicubic at random on PIL images;
  torchvision cannot resample tensors bicubically in ``affine``/``rotate``);
- ``PosterizeIncreasing`` at level 10 keeps 0 bits, a black clip (Pillow < 10 behaviour; newer Pillow raises).
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Sequence

import torch
import torchvision.transforms.v2.functional as F
from torchvision.transforms import InterpolationMode

__all__ = ["RandAugment", "RAND_INCREASING_OPS", "RAND_OPS"]

LEVEL_DENOM = 10.0
RAND_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color",
            "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
RAND_INCREASING_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing",
                       "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
                       "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")


def _solarize_add(clip: torch.Tensor, add: int, threshold: int = 128) -> torch.Tensor:
    added = (clip.to(torch.int16) + add).clamp_(max=255).to(torch.uint8)
    return torch.where(clip < threshold, added, clip)


def _posterize(clip: torch.Tensor, bits: int) -> torch.Tensor:
    return torch.zeros_like(clip) if bits <= 0 else F.posterize(clip, min(bits, 8))


def _affine(clip: torch.Tensor, fill: list[float], translate: tuple[float, float] = (0.0, 0.0),
            shear: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    # PIL's affine transforms in timm shear about the top-left corner; so do we.
    return F.affine(clip, angle=0.0, translate=list(translate), scale=1.0, shear=list(shear),
                    interpolation=InterpolationMode.BILINEAR, fill=fill, center=[0.0, 0.0])


class RandAugment:
    """``RandAugment("rand-m9-mstd0.5-inc1")(sample, generator)``; the same ops and arguments for every frame."""

    def __init__(self, config: str = "rand-m9-mstd0.5-inc1", fill: Sequence[int] = (128, 128, 128)) -> None:
        self.config = config
        self.magnitude, self.magnitude_std, self.magnitude_max = 10.0, 0.0, LEVEL_DENOM
        self.num_layers, self.prob, increasing = 2, 0.5, False
        parts = config.split("-")
        if parts[0] != "rand":
            raise ValueError(f"RandAugment config must start with 'rand', got {config!r}")
        for part in parts[1:]:
            match = re.fullmatch(r"([a-z]+)([\d.]+)", part)
            if match is None:
                raise ValueError(f"cannot parse {part!r} in RandAugment config {config!r}")
            key, value = match.group(1), float(match.group(2))
            if key == "m":
                self.magnitude = value
            elif key == "mstd":
                self.magnitude_std = value
            elif key == "mmax":
                self.magnitude_max = value
            elif key == "n":
                self.num_layers = int(value)
            elif key == "p":
                self.prob = value
            elif key == "inc":
                increasing = bool(value)
            else:
                raise ValueError(f"unknown RandAugment key {key!r} in {config!r}")
        self.op_names = RAND_INCREASING_OPS if increasing else RAND_OPS
        self.fill = [float(v) for v in fill]

    def __repr__(self) -> str:
        return f"RandAugment({self.config!r})"

    def _op(self, name: str, level: float, sign: float, height: int, width: int) -> Callable[[torch.Tensor], Any]:
        """The op ``name`` at magnitude ``level`` (0..10) with argument sign ``sign`` (+1 or -1)."""
        fraction = level / LEVEL_DENOM
        fill = self.fill
        enhance = max(0.1, 1.0 + sign * fraction * 0.9)  # the "Increasing" enhance ops
        plain_enhance = fraction * 1.8 + 0.1
        ops: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
            "AutoContrast": F.autocontrast,
            "Equalize": F.equalize,
            "Invert": F.invert,
            "Rotate": lambda c: F.rotate(c, sign * fraction * 30.0, interpolation=InterpolationMode.BILINEAR,
                                         fill=fill),
            "Posterize": lambda c: _posterize(c, int(fraction * 4)),
            "PosterizeIncreasing": lambda c: _posterize(c, 4 - int(fraction * 4)),
            "Solarize": lambda c: F.solarize(c, int(fraction * 256)),
            "SolarizeIncreasing": lambda c: F.solarize(c, 256 - int(fraction * 256)),
            "SolarizeAdd": lambda c: _solarize_add(c, int(fraction * 110)),
            "Color": lambda c: F.adjust_saturation(c, plain_enhance),
            "ColorIncreasing": lambda c: F.adjust_saturation(c, enhance),
            "Contrast": lambda c: F.adjust_contrast(c, plain_enhance),
            "ContrastIncreasing": lambda c: F.adjust_contrast(c, enhance),
            "Brightness": lambda c: F.adjust_brightness(c, plain_enhance),
            "BrightnessIncreasing": lambda c: F.adjust_brightness(c, enhance),
            "Sharpness": lambda c: F.adjust_sharpness(c, plain_enhance),
            "SharpnessIncreasing": lambda c: F.adjust_sharpness(c, enhance),
            "ShearX": lambda c: _affine(c, fill, shear=(math.degrees(math.atan(sign * fraction * 0.3)), 0.0)),
            "ShearY": lambda c: _affine(c, fill, shear=(0.0, math.degrees(math.atan(sign * fraction * 0.3)))),
            "TranslateXRel": lambda c: _affine(c, fill, translate=(-sign * fraction * 0.45 * width, 0.0)),
            "TranslateYRel": lambda c: _affine(c, fill, translate=(0.0, -sign * fraction * 0.45 * height)),
        }
        return ops[name]

    def sample_ops(self, generator: torch.Generator) -> list[tuple[str, float, float]]:
        """``(op name, magnitude, sign)`` of the ops that will apply to one clip (skipped ops are left out)."""
        chosen = torch.randint(0, len(self.op_names), (self.num_layers,), generator=generator).tolist()
        drawn = []
        for index in chosen:
            apply, sign_coin = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
            level = self.magnitude
            if self.magnitude_std > 0:
                level = level + self.magnitude_std * float(torch.randn((), generator=generator, dtype=torch.float64))
            level = max(0.0, min(level, self.magnitude_max))
            if apply < self.prob:
                drawn.append((self.op_names[index], level, -1.0 if sign_coin > 0.5 else 1.0))
        return drawn

    def __call__(self, sample: dict[str, Any], generator: torch.Generator) -> dict[str, Any]:
        clip = sample["clip"]
        if clip.dtype != torch.uint8 or clip.ndim != 4:
            raise TypeError(f"RandAugment expects a uint8 [T, 3, H, W] clip, got {clip.dtype} {tuple(clip.shape)}")
        for name, level, sign in self.sample_ops(generator):
            clip = self._op(name, level, sign, clip.shape[-2], clip.shape[-1])(clip)
        return {**sample, "clip": clip}
