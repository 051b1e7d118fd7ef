"""Motionformer (Patrick et al., NeurIPS 2021): joint, divided and trajectory attention video transformers.

See README.md for the variants, the reference quirks and how to load the released ``.pyth`` checkpoints.
Exports ``VARIANTS`` (the variant table), ``build_model``, ``convert_reference_state_dict``, and ``SMOKE_ARGS`` for
CI's entry-point smoke runs (``ci/SMOKE_CONTRACT.md``).
"""
from __future__ import annotations

from projects.motionformer.model import (
    UNUSED_REFERENCE_PARAMS,
    VARIANTS,
    build_model,
    convert_reference_state_dict,
    load_imagenet_vit,
    load_reference_checkpoint,
)

__all__ = ["VARIANTS", "SMOKE_ARGS", "UNUSED_REFERENCE_PARAMS", "build_model", "convert_reference_state_dict",
           "load_imagenet_vit", "load_reference_checkpoint"]

# CI smoke run (ci/SMOKE_CONTRACT.md): tiny model on the synthetic dataset's PySlowFast csv and mp4s.
SMOKE_ARGS: dict[str, list[str]] = {
    "train": ["--preset", "tiny_synthetic", "--data-root", "{data_root}", "--output-dir", "{train_dir}",
              "--max-steps", "2", "--batch-size", "2", "--workers", "0", "--val-list", "", "--no-progress"],
    "test": ["--preset", "tiny_synthetic", "--checkpoint", "{train_dir}/checkpoints/last.pth",
             "--data-root", "{data_root}", "--num-clips", "2", "--num-crops", "3", "--output-dir", "{test_dir}",
             "--workers", "0", "--no-progress"],
}
