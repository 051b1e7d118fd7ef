"""MAS-Net (Motion Accumulation and Selection) with TSN / TSM baselines; see README.md.

Exports the project registry API of ``shared/CONVENTIONS.md``: ``VARIANTS``, ``VARIANT_INFO``, ``build_model``,
``convert_reference_state_dict``, plus ``SMOKE_ARGS`` for CI's entry-point smoke runs (``ci/SMOKE_CONTRACT.md``).
"""
from __future__ import annotations

from .model import VARIANT_CONFIGS, MASNet, build_model, convert_reference_state_dict, load_imagenet_resnet

__all__ = ["VARIANTS", "VARIANT_INFO", "SMOKE_ARGS", "MASNet", "build_model", "convert_reference_state_dict",
           "load_imagenet_resnet"]

VARIANTS: tuple[str, ...] = tuple(VARIANT_CONFIGS)

_SPEC = "shared/specs/masnet.md section 3 (reference code b86e599c, fvcore 0.1.5, one clip)"
_MEASURED = "reference code b86e599c built by projects/masnet/reference.py, fvcore, one clip"
_TORCHVISION = "torchvision resnet50 with a 174-class fc on 8 frames (the TSM repo's TSN/TSM backbone), fvcore"

VARIANT_INFO: dict[str, dict] = {
    "masnet_r50": dict(input_shape=(3, 8, 224, 224), num_classes=174, build_kwargs={"num_segments": 8},
                       reference_params=26_065_732, reference_gflops=33.55, source=_SPEC, paper=True),
    "masnet_r101": dict(input_shape=(3, 8, 224, 224), num_classes=174, build_kwargs={"num_segments": 8},
                        reference_params=47_014_220, reference_gflops=63.77, source=_MEASURED, paper=True),
    "tsn_r50": dict(input_shape=(3, 8, 224, 224), num_classes=174, build_kwargs={"num_segments": 8},
                    reference_params=23_864_558, reference_gflops=32.88, source=_TORCHVISION, paper=True),
    "tsm_r50": dict(input_shape=(3, 8, 224, 224), num_classes=174, build_kwargs={"num_segments": 8},
                    reference_params=23_864_558, reference_gflops=32.88,
                    source=_TORCHVISION + "; the shift costs no FLOPs", paper=True),
    # Not from the paper: small variants for tests, CI and the CPU demo.
    "masnet_tiny": dict(input_shape=(3, 8, 64, 64), num_classes=10, build_kwargs={"num_segments": 8},
                        reference_params=None, reference_gflops=None, source="not from the paper", paper=False),
    "tsn_tiny": dict(input_shape=(3, 8, 64, 64), num_classes=10, build_kwargs={"num_segments": 8},
                     reference_params=None, reference_gflops=None, source="not from the paper", paper=False),
    "tsm_tiny": dict(input_shape=(3, 8, 64, 64), num_classes=10, build_kwargs={"num_segments": 8},
                     reference_params=None, reference_gflops=None, source="not from the paper", paper=False),
}

# CI's smoke run of the entry points (ci/SMOKE_CONTRACT.md): the small model on the session's synthetic clips.
_SMOKE_DATA = ["--preset", "synthetic_tiny", "--data-root", "{data_root}", "--num_segments", "4", "--workers", "0",
               "--device", "cpu", "--no-progress"]
SMOKE_ARGS: dict[str, list[str]] = {
    "train": _SMOKE_DATA + ["--output-dir", "{train_dir}", "--max-steps", "2", "--batch-size", "2"],
    "test": _SMOKE_DATA + ["--checkpoint", "{train_dir}/checkpoints/last.pth", "--num-clips", "2", "--num-crops", "3",
                           "--output-dir", "{test_dir}"],
}
