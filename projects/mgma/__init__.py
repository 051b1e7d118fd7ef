"""MGMA (Multi-Group Multi-Attention) on 3D-ResNets and a 3D-ShuffleNetV2, with the reference's baselines; see
README.md. Exports the project API of ``shared/CONVENTIONS.md`` and ``SMOKE_ARGS`` for CI's entry-point smoke runs
(``ci/SMOKE_CONTRACT.md``)."""
from __future__ import annotations

from .model import VARIANTS, build_model, convert_reference_state_dict

__all__ = ["VARIANTS", "SMOKE_ARGS", "build_model", "convert_reference_state_dict"]

# CI's smoke run of the entry points: the tiny model on the session's synthetic clips, 2 steps, then 2 x 3 views.
_SMOKE_DATA = ["--preset", "tiny_synthetic", "--data-root", "{data_root}", "--workers", "0", "--device", "cpu",
               "--no-progress"]
SMOKE_ARGS: dict[str, list[str]] = {
    "train": _SMOKE_DATA + ["--output-dir", "{train_dir}", "--max-steps", "2", "--batch-size", "2",
                            "--precise-bn-batches", "1"],
    "test": _SMOKE_DATA + ["--checkpoint", "{train_dir}/checkpoints/last.pth", "--num-clips", "2", "--num-crops", "3",
                           "--output-dir", "{test_dir}"],
}
