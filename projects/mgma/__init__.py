"""MGMA (Multi-Group Multi-Attention) on 3D-ResNets and a 3D-ShuffleNetV2, with the reference's baselines; see
README.md. Exports the project API of ``shared/CONVENTIONS.md``."""
from __future__ import annotations

from .model import VARIANTS, build_model, convert_reference_state_dict

__all__ = ["VARIANTS", "build_model", "convert_reference_state_dict"]
