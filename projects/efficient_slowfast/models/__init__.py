"""Variant table, builder and reference-checkpoint converter of the efficient dual-attention SlowFast models.

The blocks live in ``slowfast.py`` (CMDA, the two-pathway shell, the ResNet-50 models) and ``efficient.py``
(ShuffleNetV2, ShuffleNet, MobileNetV2, GhostNet); paper and citation are in ``slowfast.py``. Reference counts
are the spec's section 3 (fvcore 0.1.5 on the reference code, one clip, eval mode, 400 classes).
"""
from __future__ import annotations

import re
from typing import Any, Callable

import torch

from common.variants import Variant, lookup, variant_table

from .efficient import ChannelPlanError, build_ghostnet, build_mobilenetv2, build_shufflenet, build_shufflenetv2
from .slowfast import ATTN_BACKENDS, CMDA, TwoPathwayNet, build_resnet_slowfast, slow_frame_indices

__all__ = ["ATTN_BACKENDS", "CMDA", "ChannelPlanError", "KINETICS_MEAN", "KINETICS_STD", "TwoPathwayNet", "VARIANTS",
           "build_model", "convert_reference_state_dict", "slow_frame_indices"]

KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
_SPEC = "shared/specs/efficient_slowfast.md section 3.2 (reference 70a78ea, fvcore 0.1.5, one clip)"


_DEFAULTS = dict(alpha=4, beta_inv=8, dropout=0.5, attn_backend="sdpa")


def _variant(name: str, arch: dict[str, Any], num_frames: int, input_size: int, params: int | None,
             gflops: float | None, **kwargs: Any) -> Variant:
    return Variant(name, arch={**arch, **_DEFAULTS}, num_classes=kwargs.pop("num_classes", 400),
                   num_frames=num_frames, input_size=input_size, mean=KINETICS_MEAN, std=KINETICS_STD,
                   reference_params=params, reference_gflops=gflops, source=kwargs.pop("source", _SPEC), **kwargs)


VARIANTS = variant_table(
    _variant("slowfast_dual_r50", dict(family="resnet", lateral="cmda"), 32, 224, 33_981_728, 105.93,
             notes="SlowFast-R50 32x2 with every lateral replaced by CMDA; 56.02 of the GFLOPs are attention"),
    _variant("slowfast_r50", dict(family="resnet", lateral="conv"), 32, 224, 34_566_488, 50.58,
             notes="the fork's plain SlowFast-R50 baseline (SLOWFAST_8x8_R50_stepwise_multigrid_DUAL.yaml)"),
    _variant("slowfast_shufflenetv2", dict(family="shufflenetv2", width_mult=2.0), 16, 112, 7_064_226, 0.9130),
    _variant("slowfast_shufflenet", dict(family="shufflenet", width_mult=1.0, groups=1), 16, 112, 1_611_983,
             0.3768),
    _variant("slowfast_mobilenetv2", dict(family="mobilenetv2", width_mult=0.5), 16, 112, 1_385_110, 0.1952),
    _variant("slowfast_ghostnet", dict(family="ghostnet", width_mult=1.0), 16, 112, 4_651_628, 0.9617),
    _variant("slowfast_tiny", dict(family="shufflenetv2", width_mult=0.25), 8, 64, None, None, num_classes=10,
             paper=False, source="not from the paper: ShuffleNetV2 W0.25 at 8x64 for tests, CI and demos"),
)

_BUILDERS: dict[str, Callable[..., TwoPathwayNet]] = {
    "shufflenetv2": build_shufflenetv2, "shufflenet": build_shufflenet, "mobilenetv2": build_mobilenetv2,
    "ghostnet": build_ghostnet,
}


def build_model(variant: str, num_classes: int | None = None, *, num_frames: int | None = None,
                **overrides: Any) -> TwoPathwayNet:
    """Build a variant with the reference's initialisation.

    Args:
        variant: a name of ``VARIANTS``.
        num_classes: classifier size; None for the variant's (400, Kinetics).
        num_frames: fast-pathway clip length the model is meant for (recorded as ``model.num_frames``; no weight
            depends on it, and the model runs on any multiple of ``alpha``).
        overrides: ``alpha``, ``beta_inv`` (4 and 8), ``dropout`` (0.5; the Jester configs use 0.2),
            ``attn_backend`` (``"sdpa"``: CMDA attention without the N x N matrix, or ``"math"``: explicit),
            ``width_mult`` (efficient nets) and ``groups`` (ShuffleNet).
    """
    cfg = lookup(VARIANTS, variant, "efficient_slowfast")
    arch = dict(cfg.arch)
    family = arch.pop("family")
    allowed = [key for key in arch if key != "lateral"]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise TypeError(f"{variant} does not take {unknown}; its options are {allowed}")
    arch.update(overrides)
    classes = cfg.num_classes if num_classes is None else num_classes
    if family == "resnet":
        model = build_resnet_slowfast(num_classes=classes, **arch)
    else:
        model = _BUILDERS[family](classes, **arch)
    model.variant = variant
    model.num_frames = cfg.num_frames if num_frames is None else num_frames
    return model


# --------------------------------------------------------------------------------------------------------------
# Reference checkpoints
# --------------------------------------------------------------------------------------------------------------

_BN_STATS = ("running_mean", "running_var", "num_batches_tracked")

# Reference (fork) module names -> ours, applied in order after "module." is stripped and sub-BN keys are fixed.
_RENAMES = (
    (r"\.attention_channel_f2s\.conv\.", ".f2s_eca."),
    (r"\.bn_f2s\.", ".f2s_bn."),
    (r"\.downsample_c_of_slow\.", ".s2f_reduce."),
    (r"\.attention_spatial_s2f\.(query|key|value)_conv\.", r".s2f_attention.\1."),
    (r"\.attention_spatial_s2f\.gamma$", ".s2f_attention.gamma"),
    (r"\.bn_s2f\.", ".s2f_bn."),
    (r"\.pathway(\d)_stem\.features\.", r".pathway\1."),  # MobileNetV2 stems
    (r"\.pathway(\d)_stem\.", r".pathway\1."),
    (r"\.pathway(\d)_channel_\d+\.features\.", r".pathway\1."),  # efficient-net stages
    (r"\.pathway(\d)_res(\d+)\.", r".pathway\1.\2."),  # ResNet stages
    (r"\.banch([12])\.", r".branch\1."),  # ShuffleNetV2's spelling
    (r"^head\.pathway(\d)_conv1x1x1\.0\.(\d)\.", r"head.pathway\1.\2."),  # ShuffleNetV2 head: Sequential in one
    (r"^head\.pathway(\d)_conv1x1x1\.", r"head.pathway\1."),  # MobileNetV2 head
    (r"^head\.stage5_conv_slow\.conv\.", "head.pathway0.0."),
    (r"^head\.stage5_conv_slow\.bn1\.", "head.pathway0.1."),
    (r"^head\.stage5_conv_fast\.conv\.", "head.pathway1.0."),
    (r"^head\.stage5_conv_fast\.bn1\.", "head.pathway1.1."),
    (r"^head\.conv_head_slow\.", "head.pathway0_proj."),
    (r"^head\.conv_head_fast\.", "head.pathway1_proj."),
    (r"^head\.classifier\.1\.", "head.fc."),
    (r"^head\.projection\.", "head.fc."),
)


def _normal_bn_name(key: str) -> str | None:
    """The plain-BN name of a sub-BN key, or None to drop it.

    PySlowFast's multigrid sub-BN stores a BN ``X`` as ``X.weight``/``X.bias`` plus ``X.bn.<stats>`` and
    ``X.split_bn.<stats>``. Its ``sub_to_normal_bn`` renames only keys ending in ``bn.bn.<stat>``, which misses
    the CMDA BNs (``bn_f2s.bn.running_mean``): the fork's checkpoints keep those names and its eval model leaves
    the statistics at mean 0 / var 1 (quirk Q3). Here ``X.bn.<stat>`` becomes ``X.<stat>`` whenever ``X`` is a BN
    (its last name is ``bn``, ``*_bn`` or ``bn_*``), and ``split_bn`` copies are dropped (their aggregate is
    ``X.bn``). A stem's own ``pathway0_stem.bn.running_mean`` is left alone.
    """
    parts = key.split(".")
    if "split_bn" in parts:
        return None
    if (len(parts) >= 3 and parts[-1] in _BN_STATS and parts[-2] == "bn"
            and re.fullmatch(r"(\w+_)?bn(_\w+)?", parts[-3])):
        return ".".join(parts[:-2] + parts[-1:])
    return key


_FAMILY_MARKERS = {  # a key fragment only that family's checkpoints have
    "resnet": ".branch2.", "shufflenetv2": ".banch2.", "shufflenet": ".conv3.weight",
    "mobilenetv2": "s8.", "ghostnet": ".ghost1.",
}


def convert_reference_state_dict(state_dict: dict[str, Any], variant: str, **overrides: Any) -> dict[str, Any]:
    """Map a checkpoint of the reference code (``checkpoint_epoch_*.pyth``) to this implementation's names.

    Accepts the whole checkpoint dict (its ``model_state`` is used) or the model state itself, with or without
    DDP's ``module.`` prefix. Fixes the sub-BN naming bug (:func:`_normal_bn_name`, Q3) instead of dropping the
    statistics, renames modules (``pathway{p}_channel_{X}.features`` -> ``pathway{p}``, ``banch`` -> ``branch``,
    heads -> ``head.pathway{p}`` / ``head.fc``), and fills a missing ``num_batches_tracked`` with 0, so that
    ``build_model(variant, num_classes, **overrides).load_state_dict(converted, strict=True)`` succeeds.
    ``overrides`` are accepted for the shared signature; the names do not depend on them.
    """
    cfg = lookup(VARIANTS, variant, "efficient_slowfast")
    if isinstance(state_dict.get("model_state"), dict):
        state_dict = state_dict["model_state"]
    family, lateral = cfg.arch["family"], cfg.arch.get("lateral")
    keys = list(state_dict)
    marker = _FAMILY_MARKERS[family]
    if not any(marker in key for key in keys):
        raise ValueError(f"the state dict is not a checkpoint of the {family} family, so it does not fit "
                         f"variant {variant!r} (no key contains {marker!r})")
    if family == "resnet" and any(".conv_f2s." in k for k in keys) != (lateral == "conv"):
        raise ValueError(f"the state dict's laterals do not fit variant {variant!r} "
                         f"({'strided-conv' if lateral == 'conv' else 'CMDA'} laterals expected)")
    converted: dict[str, Any] = {}
    for key, tensor in state_dict.items():
        name = _normal_bn_name(key.removeprefix("module."))
        if name is None:
            continue
        for pattern, replacement in _RENAMES:
            name = re.sub(pattern, replacement, name)
        converted[name] = tensor
    for name in list(converted):
        if name.endswith(".running_mean"):
            converted.setdefault(name.removesuffix("running_mean") + "num_batches_tracked",
                                 torch.tensor(0, dtype=torch.long))
    return converted
