"""Build the reference models from a local checkout of weidafeng/Efficient-SlowFast, for parity, speed and memory
measurements only.

Never imported by tests or by the rest of the project: the reference code is not part of this repository. Point
``checkout`` at a clone of https://github.com/weidafeng/Efficient-SlowFast (its root, or its ``SlowFast/``
folder). The fork imports detectron2 (ROIAlign), mmcv (an unused block) and simplejson at module level; modules
that are not installed are replaced by empty stand-ins, which the model classes never touch.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
import types
from pathlib import Path

import torch
from torch import nn

from projects.efficient_slowfast.models import VARIANTS, slow_frame_indices

_CLASSES = {  # our variant -> (yaml token of configs/Kinetics/SLOWFAST_<token>_8x8_R50_stepwise_multigrid.yaml, class)
    "slowfast_dual_r50": ("DUAL", "SlowFastDualAttention"),
    "slowfast_shufflenetv2": ("SHUFFLENETV2", "SlowFastShuffleNetV2"),
    "slowfast_shufflenet": ("SHUFFLENET", "SlowFastShuffleNet"),
    "slowfast_mobilenetv2": ("MOBILENETV2", "SlowFastMoibleNetV2"),
    "slowfast_ghostnet": ("GHOSTNET", "SlowFastGhostNet"),
    "slowfast_tiny": ("SHUFFLENETV2", "SlowFastShuffleNetV2"),
}
_BASELINE_YAML = "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid_DUAL.yaml"
_STAND_INS = {"detectron2": {}, "detectron2.layers": {"ROIAlign": object}, "mmcv": {},
              "mmcv.cnn": {"constant_init": None, "kaiming_init": None}, "simplejson": vars(json)}


class ReferenceWrapper(nn.Module):
    """Takes our ``[B, 3, T, H, W]`` clip and feeds the reference its ``[slow, fast]`` list (a fresh one per call:
    the reference's stems overwrite the list they get, Q10). In eval mode the reference returns its head's
    activation (softmax; ReLU'd logits for GhostNet), in train mode logits."""

    def __init__(self, reference: nn.Module, alpha: int = 4) -> None:
        super().__init__()
        self.reference = reference
        self.alpha = alpha

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        slow = clips.index_select(2, slow_frame_indices(clips.shape[2], self.alpha, clips.device))
        return self.reference([slow, clips])


def _slowfast_root(checkout: Path) -> Path:
    for root in (checkout, checkout / "SlowFast"):
        if (root / "slowfast" / "models" / "custom_video_model_builder.py").is_file():
            return root
    raise FileNotFoundError(f"{checkout} is not a checkout of weidafeng/Efficient-SlowFast "
                            "(slowfast/models/custom_video_model_builder.py not found)")


def _import_fork(checkout: Path) -> Path:
    """Put the fork on ``sys.path`` (stand-ins for the imports it does not need) and return its root."""
    root = _slowfast_root(Path(checkout).expanduser().resolve())
    for name, attributes in _STAND_INS.items():
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    with contextlib.redirect_stdout(io.StringIO()):
        package = importlib.import_module("slowfast.models.custom_video_model_builder")
    if not str(Path(package.__file__).resolve()).startswith(str(root)):
        raise ImportError(f"another 'slowfast' package shadows the checkout: {package.__file__}")
    return root


def build_reference_fusion(checkout: Path, slow_channels: int, fast_channels: int, alpha: int = 4,
                           beta_inv: int = 8) -> nn.Module:
    """The fork's ``FuseFastAndSlow`` (CMDA) layer; it takes and returns a ``[slow, fast]`` list."""
    _import_fork(checkout)
    builders = importlib.import_module("slowfast.models.custom_video_model_builder")
    with contextlib.redirect_stdout(io.StringIO()):
        return builders.FuseFastAndSlow([slow_channels, fast_channels], alpha, beta_inv)


def build_reference_model(checkout: Path, variant: str, num_classes: int | None = None,
                          width_mult: float | None = None, groups: int | None = None) -> nn.Module:
    """The reference model of ``variant`` built from the fork's Kinetics yaml (plus the variant's width / groups,
    or the given ones), wrapped to take our clip layout. Its ``reference.state_dict()`` has the fork's key
    layout, which :func:`projects.efficient_slowfast.convert_reference_state_dict` converts."""
    if variant not in _CLASSES and variant != "slowfast_r50":
        raise KeyError(f"unknown variant {variant!r}")
    root = _import_fork(checkout)
    with contextlib.redirect_stdout(io.StringIO()):  # the fork prints channel lists while building
        cfg = importlib.import_module("slowfast.config.defaults").get_cfg()
        token, class_name = _CLASSES.get(variant, (None, "SlowFast"))
        yaml = root / (_BASELINE_YAML if token is None else
                       f"configs/Kinetics/SLOWFAST_{token}_8x8_R50_stepwise_multigrid.yaml")
        cfg.merge_from_file(str(yaml))
        cfg.NUM_GPUS = 0
        cfg.MODEL.NUM_CLASSES = VARIANTS[variant].num_classes if num_classes is None else num_classes
        arch = VARIANTS[variant].arch
        cfg.SLOWFAST.WIDTH_MULTI = width_mult if width_mult is not None else arch.get("width_mult", 2.0)
        cfg.SLOWFAST.GROUPS = groups if groups is not None else arch.get("groups", 1)
        module_name = "video_model_builder" if token is None else "custom_video_model_builder"
        builders = importlib.import_module(f"slowfast.models.{module_name}")
        model = getattr(builders, class_name)(cfg)
    return ReferenceWrapper(model, cfg.SLOWFAST.ALPHA)
