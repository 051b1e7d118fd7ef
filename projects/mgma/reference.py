"""Build the reference MGMA models from a local checkout, for parity and speed measurements only.

Never imported by tests or by the rest of the project: the reference code is not part of this repository. Point
``checkout`` at a clone of https://github.com/zhenglab/mgma (outside this tree); ``benchmarks/model_speed.py
--reference-checkout DIR`` calls :func:`build_reference_model`. The reference's logging module imports
``simplejson``, which is not a dependency here; the standard ``json`` module stands in for it when it is missing.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from projects.mgma.model import VARIANTS, MGMAConfig

_ARCH = {"r3d": "r3d", "r2plus1d": "r2plus1d"}
_DEPTH = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34}


class ReferenceWrapper(nn.Module):
    """Takes our ``[B, 3, T, H, W]`` clip tensor and feeds the reference its one-pathway list."""

    def __init__(self, reference: nn.Module) -> None:
        super().__init__()
        self.reference = reference

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.reference([clips])


def reference_config(checkout: Path, variant: str, num_classes: int | None = None, **overrides: Any):
    """The reference's config (defaults + the released UCF101 yaml) for one of our variants and overrides."""
    checkout = Path(checkout).expanduser().resolve()
    if not (checkout / "lib" / "models" / "mgma_helper.py").is_file():
        raise FileNotFoundError(f"{checkout} is not a checkout of zhenglab/mgma (lib/models/mgma_helper.py not found)")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    sys.modules.setdefault("simplejson", json)
    defaults = importlib.import_module("lib.config.defaults")
    if not str(Path(defaults.__file__).resolve()).startswith(str(checkout)):
        raise ImportError(f"another 'lib' package shadows the checkout: {defaults.__file__}")
    entry = VARIANTS[variant]
    arch = MGMAConfig(**{**entry.arch, **overrides})
    cfg = defaults.get_cfg()
    cfg.merge_from_file(str(checkout / "configs" / "Ucf101" / "UCF101_MGMA.yaml"))
    cfg.NUM_GPUS = 0
    cfg.MODEL.NUM_CLASSES = entry.num_classes if num_classes is None else num_classes
    if arch.backbone == "shufflenet":
        cfg.MODEL.MODEL_NAME = "MGMAShuffleNet"
    else:
        cfg.MODEL.MODEL_NAME, cfg.MODEL.ARCH = "MGMANet", _ARCH[arch.backbone]
        cfg.MODEL.DEPTH = 50 if arch.bottleneck else _DEPTH[tuple(arch.blocks)]
    cfg.MODEL.SE_RATIO, cfg.MODEL.DROPOUT_RATE = arch.se_ratio, arch.dropout
    cfg.MGMA.TYPE = arch.mgma_type or "NONE"
    cfg.MGMA.NUM_GROUPS, cfg.MGMA.INTERVAL = arch.num_groups, arch.interval
    cfg.MGMA.USE_FIRST_UNIT, cfg.MGMA.USE_SHUFFLE = arch.use_first_unit, arch.use_shuffle
    return cfg


def build_reference_model(checkout: Path, variant: str, num_classes: int | None = None,
                          **overrides: Any) -> nn.Module:
    """The reference ``MGMANet`` / ``MGMAShuffleNet`` for ``variant`` (a paper variant of ``VARIANTS``), wrapped
    to take our input layout. Its ``state_dict()`` has the reference key layout under ``reference.``."""
    if not VARIANTS[variant].paper:
        raise KeyError(f"the reference builds the paper variants, not {variant!r}")
    cfg = reference_config(checkout, variant, num_classes, **overrides)
    registry = importlib.import_module("lib.models.build").MODEL_REGISTRY
    importlib.import_module("lib.models")  # registers MGMANet and MGMAShuffleNet
    return ReferenceWrapper(registry.get(cfg.MODEL.MODEL_NAME)(cfg))
