"""Efficient dual-attention (CMDA) SlowFast networks: ResNet-50 and four efficient two-pathway nets; see README.md.

Exports the project API of ``shared/CONVENTIONS.md``: ``VARIANTS`` (the variant table), ``build_model`` and
``convert_reference_state_dict``.
"""
from __future__ import annotations

from .models import VARIANTS, build_model, convert_reference_state_dict

__all__ = ["VARIANTS", "build_model", "convert_reference_state_dict"]
