"""Build the reference MAS-Net from a local checkout, for parity and speed measurements only.

Never imported by tests or by the rest of the project: the reference code is not part of this repository. Point
``checkout`` at a clone of https://github.com/Henry7Lee/MAS-Net-for-action-recognition (outside this tree).
The reference downloads ImageNet weights while building its backbone; that call is replaced by an empty state
dict here, so its model keeps its own random initialisation and nothing is downloaded.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from projects.masnet.model import VARIANTS

_BACKBONES = {"masnet_r50": "resnet50", "masnet_r101": "resnet101"}


class ReferenceWrapper(nn.Module):
    """Takes our ``[B, 3, T, H, W]`` clips and feeds the reference its ``[B, 3*T, H, W]`` frame stack."""

    def __init__(self, reference: nn.Module, num_segments: int) -> None:
        super().__init__()
        self.reference = reference
        self.num_segments = num_segments

    def train(self, mode: bool = True) -> "ReferenceWrapper":
        # The reference's own train() defaults to mode=False and returns None; always pass the mode explicitly.
        self.training = mode
        self.reference.train(mode)
        return self

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = clips.shape
        stacked = clips.transpose(1, 2).reshape(batch, frames * channels, height, width)  # [B, T*3, H, W]
        return self.reference(stacked)


def build_reference_model(checkout: Path, variant: str, num_classes: int | None = None,
                          num_segments: int | None = None) -> nn.Module:
    """The reference ``TemporalModel`` for ``variant`` (``masnet_r50`` / ``masnet_r101``), wrapped to take our
    input layout; classes and clip length default to the variant's (``VARIANTS``). Its ``state_dict()`` has the
    reference key layout (no ``module.`` prefix)."""
    checkout = Path(checkout).expanduser().resolve()
    if not (checkout / "ops" / "MASNet.py").is_file() or not (checkout / "ops" / "models.py").is_file():
        raise FileNotFoundError(f"{checkout} is not a checkout of Henry7Lee/MAS-Net-for-action-recognition "
                                "(ops/MASNet.py and ops/models.py not found)")
    if variant not in _BACKBONES:
        raise KeyError(f"the reference implements {sorted(_BACKBONES)}, not {variant!r}")
    num_classes = VARIANTS[variant].num_classes if num_classes is None else num_classes
    num_segments = num_segments or VARIANTS[variant].num_frames
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    backbone_module = importlib.import_module("ops.MASNet")
    if not str(Path(backbone_module.__file__).resolve()).startswith(str(checkout)):
        raise ImportError(f"another 'ops' package shadows the checkout: {backbone_module.__file__}")
    models = importlib.import_module("ops.models")
    with mock.patch.object(backbone_module.model_zoo, "load_url", lambda *args, **kwargs: {}):  # no download
        reference = models.TemporalModel(num_classes, num_segments, backbone=_BACKBONES[variant], print_spec=False)
    return ReferenceWrapper(reference, num_segments)
