"""Efficient dual-attention (CMDA) SlowFast networks: ResNet-50 and four efficient two-pathway nets; see README.md.

Exports the project API of ``shared/CONVENTIONS.md``: ``VARIANTS`` (the variant table), ``build_model`` and
``convert_reference_state_dict``, plus ``SMOKE_ARGS`` for CI's entry-point smoke runs (``ci/SMOKE_CONTRACT.md``).
"""
from __future__ import annotations

from .models import VARIANTS, build_model, convert_reference_state_dict

__all__ = ["VARIANTS", "SMOKE_ARGS", "build_model", "convert_reference_state_dict"]

# CI smoke run (ci/SMOKE_CONTRACT.md): the tiny model on the synthetic dataset's PySlowFast csv and mp4s.
SMOKE_ARGS: dict[str, list[str]] = {
    "train": ["--preset", "tiny_synthetic", "--data-root", "{data_root}", "--output-dir", "{train_dir}",
              "--max-steps", "2", "--batch-size", "2", "--workers", "0", "--val-list", "", "--precise-bn-batches",
              "1", "--device", "cpu", "--no-progress"],
    "test": ["--preset", "tiny_synthetic", "--checkpoint", "{train_dir}/checkpoints/last.pth",
             "--data-root", "{data_root}", "--num-clips", "2", "--num-crops", "3", "--output-dir", "{test_dir}",
             "--test-batch-size", "6", "--workers", "0", "--device", "cpu", "--no-progress"],
}
