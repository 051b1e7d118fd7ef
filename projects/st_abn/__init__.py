"""ST-ABN (spatio-temporal attention branch network) and its slow-only baseline; see README.md.

Exports the project API of ``shared/CONVENTIONS.md``: ``VARIANTS`` (the variant table), ``build_model``,
``convert_reference_state_dict``; the model class, the loss and the ImageNet inflation; and ``SMOKE_ARGS`` for CI's
entry-point smoke runs (``ci/SMOKE_CONTRACT.md``).
"""
from __future__ import annotations

from .model import VARIANTS, STABN, build_model, convert_reference_state_dict, inflate_imagenet_resnet, stabn_loss

__all__ = ["VARIANTS", "SMOKE_ARGS", "STABN", "build_model", "convert_reference_state_dict", "inflate_imagenet_resnet",
           "stabn_loss"]

# CI's smoke run of the entry points: the tiny model on the session's synthetic clips, 4 frames.
_SMOKE = ["--preset", "tiny_synthetic", "--data-root", "{data_root}", "--num-frames", "4", "--workers", "0",
          "--device", "cpu", "--no-progress"]
SMOKE_ARGS: dict[str, list[str]] = {
    "train": _SMOKE + ["--output-dir", "{train_dir}", "--max-steps", "2", "--batch-size", "2"],
    "test": _SMOKE + ["--checkpoint", "{train_dir}/checkpoints/last.pth", "--num-clips", "2", "--num-crops", "3",
                      "--output-dir", "{test_dir}"],
}
