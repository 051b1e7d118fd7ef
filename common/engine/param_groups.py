"""Optimiser parameter groups: no weight decay on norms and biases, lr multipliers, TSN-style groups.

Every group is a dict accepted by ``torch.optim`` plus three bookkeeping keys the engine reads:
``name`` (for logs), ``lr_mult`` (:class:`~common.engine.schedules.LRSchedule` sets ``lr = lr * lr_mult``) and
``decay_mult`` (``weight_decay`` is already multiplied by it). Empty groups are dropped. Every trainable parameter
lands in exactly one group; a parameter no rule covers is an error naming it, never silently left out.
"""
from __future__ import annotations

from typing import Any, Iterable

from torch import nn

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _group(name: str, params: list[nn.Parameter], weight_decay: float, lr_mult: float,
           decay_mult: float) -> dict[str, Any]:
    return {"params": params, "name": name, "lr_mult": lr_mult, "decay_mult": decay_mult,
            "weight_decay": weight_decay * decay_mult}


def no_decay_param_groups(model: nn.Module, weight_decay: float, skip_names: Iterable[str] = (),
                          lr_mult: float = 1.0) -> list[dict[str, Any]]:
    """Two groups: ``decay`` (weights) and ``no_decay`` (norm-layer parameters, biases, any 0/1-D tensor and the
    names in ``skip_names`` or the model's ``no_weight_decay()`` set, e.g. position embeddings, class token)."""
    skip = set(skip_names)
    if hasattr(model, "no_weight_decay"):
        skip |= set(model.no_weight_decay())
    norm_params = {id(p) for m in model.modules() if isinstance(m, NORM_TYPES) for p in m.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in norm_params or param.ndim <= 1 or name.endswith(".bias") or name in skip:
            no_decay.append(param)
        else:
            decay.append(param)
    groups = [_group("decay", decay, weight_decay, lr_mult, 1.0),
              _group("no_decay", no_decay, weight_decay, lr_mult, 0.0)]
    return [g for g in groups if g["params"]]


def norm_no_decay_param_groups(model: nn.Module, weight_decay: float, norm_weight_decay: float = 0.0
                               ) -> list[dict[str, Any]]:
    """PySlowFast's ``construct_optimizer`` groups (``BN.WEIGHT_DECAY``): ``decay`` holds every parameter outside
    normalisation layers, biases included (of SE convs and the classifier alike), at ``weight_decay``;
    ``norm`` holds the normalisation layers' parameters at ``norm_weight_decay`` (PySlowFast's default 0)."""
    norm_params = {id(p) for m in model.modules() if isinstance(m, NORM_TYPES) for p in m.parameters(recurse=False)}
    decay, norm = [], []
    for param in model.parameters():
        if param.requires_grad:
            (norm if id(param) in norm_params else decay).append(param)
    norm_mult = norm_weight_decay / weight_decay if weight_decay else 0.0
    groups = [_group("decay", decay, weight_decay, 1.0, 1.0), _group("norm", norm, weight_decay, 1.0, norm_mult)]
    return [g for g in groups if g["params"]]


def tsn_param_groups(model: nn.Module, weight_decay: float, partial_bn: bool = False,
                     fc_lr5_module: str | None = None) -> list[dict[str, Any]]:
    """The TSN / TSM ``get_optim_policies`` groups (used by MAS-Net), in the same order:

    ========================  =======  =======  ===============================================================
    group                     lr x     wd x     contents
    ========================  =======  =======  ===============================================================
    ``first_conv_weight``     1        1        weight of the first conv met in ``model.modules()`` order
    ``first_conv_bias``       2        0        its bias
    ``normal_weight``         1        1        every other Conv1d/2d/3d and Linear weight
    ``normal_bias``           2        0        their biases
    ``BN scale/shift``        1        0        BatchNorm 1d/2d/3d weight and bias (with ``partial_bn`` only the
                                                first BatchNorm2d's; every other BatchNorm2d is left out, frozen)
    ``lr5_weight``            5        1        only with ``fc_lr5_module``: that Linear's weight
    ``lr10_bias``             10       0        ... and its bias
    ========================  =======  =======  ===============================================================

    Like the reference, a leaf module with parameters of any other type raises ``ValueError``; unlike it, a
    parameter registered directly on a non-leaf module is also reported instead of being silently skipped.
    """
    buckets: dict[str, list[nn.Parameter]] = {key: [] for key in (
        "first_conv_weight", "first_conv_bias", "normal_weight", "normal_bias", "BN scale/shift",
        "lr5_weight", "lr10_bias")}
    covered: set[int] = set()
    conv_count = bn2d_count = 0
    fc_module = model.get_submodule(fc_lr5_module) if fc_lr5_module else None
    for module_name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if isinstance(module, CONV_TYPES) or isinstance(module, nn.Linear):
            conv_count += isinstance(module, CONV_TYPES)
            if module is fc_module:
                weight_key, bias_key = "lr5_weight", "lr10_bias"
            elif isinstance(module, CONV_TYPES) and conv_count == 1:
                weight_key, bias_key = "first_conv_weight", "first_conv_bias"
            else:
                weight_key, bias_key = "normal_weight", "normal_bias"
            buckets[weight_key].append(module.weight)
            if module.bias is not None:
                buckets[bias_key].append(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            is_2d = isinstance(module, nn.BatchNorm2d)
            bn2d_count += is_2d
            if partial_bn and is_2d and bn2d_count > 1:
                covered.update(id(p) for p in own)  # frozen by partial BN, deliberately left out
            else:
                buckets["BN scale/shift"].extend(own)
        elif own and not list(module.children()):
            raise ValueError(f"module {module_name!r} of type {type(module).__name__} has parameters but no "
                             f"TSN learning policy; give it one in tsn_param_groups")
    covered.update(id(p) for params in buckets.values() for p in params)
    uncovered = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in covered]
    if uncovered:
        raise ValueError(f"parameters outside any TSN group: {', '.join(uncovered[:10])}")
    multipliers = {"first_conv_weight": (1, 1), "first_conv_bias": (2, 0), "normal_weight": (1, 1),
                   "normal_bias": (2, 0), "BN scale/shift": (1, 0), "lr5_weight": (5, 1), "lr10_bias": (10, 0)}
    groups = [_group(name, [p for p in params if p.requires_grad], weight_decay, *multipliers[name])
              for name, params in buckets.items()]
    return [g for g in groups if g["params"]]


def describe_param_groups(groups: list[dict[str, Any]]) -> str:
    """One line per group: name, tensors, elements, lr multiplier, weight decay (for the run log)."""
    lines = []
    for group in groups:
        elements = sum(p.numel() for p in group["params"])
        lines.append(f"group {group.get('name', '?'):<18} tensors {len(group['params']):>4}  "
                     f"elements {elements:>11,}  lr x{group.get('lr_mult', 1.0):g}  wd {group['weight_decay']:g}")
    return "\n".join(lines)
