"""ST-ABN (spatio-temporal attention branch network) and its slow-only baseline; see README.md.

Exports the project API of ``shared/CONVENTIONS.md``: ``VARIANTS`` (the variant table), ``build_model``,
``convert_reference_state_dict``; plus the model class, the loss and the ImageNet inflation.
"""
from __future__ import annotations

from .model import VARIANTS, STABN, build_model, convert_reference_state_dict, inflate_imagenet_resnet, stabn_loss

__all__ = ["VARIANTS", "STABN", "build_model", "convert_reference_state_dict", "inflate_imagenet_resnet",
           "stabn_loss"]
