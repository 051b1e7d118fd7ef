"""MAS-Net (Motion Accumulation and Selection) with TSN / TSM baselines; see README.md.

Exports the project API of ``shared/CONVENTIONS.md``: ``VARIANTS`` (the variant table), ``build_model``,
``convert_reference_state_dict``, plus ``SMOKE_ARGS`` for CI's entry-point smoke runs (``ci/SMOKE_CONTRACT.md``).
"""
from __future__ import annotations

from .model import VARIANTS, MASNet, build_model, convert_reference_state_dict, load_imagenet_resnet

__all__ = ["VARIANTS", "SMOKE_ARGS", "MASNet", "build_model", "convert_reference_state_dict", "load_imagenet_resnet"]

# CI's smoke run of the entry points (ci/SMOKE_CONTRACT.md): the small model on the session's synthetic clips.
_SMOKE_DATA = ["--preset", "tiny_synthetic", "--data-root", "{data_root}", "--num_segments", "4", "--workers", "0",
               "--device", "cpu", "--no-progress"]
SMOKE_ARGS: dict[str, list[str]] = {
    "train": _SMOKE_DATA + ["--output-dir", "{train_dir}", "--max-steps", "2", "--batch-size", "2"],
    "test": _SMOKE_DATA + ["--checkpoint", "{train_dir}/checkpoints/last.pth", "--num-clips", "2", "--num-crops", "3",
                           "--output-dir", "{test_dir}"],
}
