"""Efficient dual-attention (CMDA) SlowFast networks: ResNet-50 and four efficient two-pathway nets; see README.md.

Exports the project API of ``shared/CONVENTIONS.md``: ``VARIANTS`` (the variant table), ``build_model``,
``convert_reference_state_dict``, and ``VARIANT_INFO`` (the same facts in the benchmarks' and CI's per-variant
dict form).
"""
from __future__ import annotations

from .models import VARIANTS, build_model, convert_reference_state_dict

__all__ = ["VARIANTS", "VARIANT_INFO", "build_model", "convert_reference_state_dict"]

VARIANT_INFO: dict[str, dict] = {
    name: dict(input_shape=v.input_shape, num_classes=v.num_classes, build_kwargs={"num_frames": v.num_frames},
               reference_params=v.reference_params, reference_gflops=v.reference_gflops, source=v.source,
               paper=v.paper)
    for name, v in VARIANTS.items()
}
