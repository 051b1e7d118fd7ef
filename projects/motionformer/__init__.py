"""Motionformer (Patrick et al., NeurIPS 2021): joint, divided and trajectory attention video transformers.

See README.md for the variants, the reference quirks and how to load the released ``.pyth`` checkpoints.
"""
from __future__ import annotations

from typing import Any

from projects.motionformer.model import (
    VARIANT_ARGS,
    analytic_gflops,
    build_model,
    convert_reference_state_dict,
    load_imagenet_vit,
    load_reference_checkpoint,
)

__all__ = ["VARIANTS", "VARIANT_INFO", "SMOKE_ARGS", "build_model", "convert_reference_state_dict",
           "load_imagenet_vit", "load_reference_checkpoint", "analytic_gflops"]

# ``ek_motionformer_tiny`` (tests of the EPIC pipeline) is buildable but not registered for benchmarks / CI goldens.
VARIANTS: tuple[str, ...] = tuple(name for name in VARIANT_ARGS if name != "ek_motionformer_tiny")

# The reference keeps an unused 2-D patch conv (590,592 parameters) that this implementation does not build.
UNUSED_REFERENCE_PARAMS = 590_592
_CONFIG_ROOT = "facebookresearch/Motionformer@bf43d50:configs/"


def _info(variant: str, reference_params: int | None, reference_gflops: float | None, gflops: float,
          source: str, num_classes: int = 400) -> dict[str, Any]:
    args = VARIANT_ARGS[variant]
    paper = reference_params is not None
    return {
        "input_shape": (3, args["num_frames"], args["img_size"], args["img_size"]),
        "num_classes": num_classes,
        "build_kwargs": {},
        "reference_params": reference_params,
        "reference_gflops": reference_gflops,
        # This implementation: no unused 2-D patch conv; the original trajectory path skips the dead value
        # projection (12 x 7.4 GFLOPs at 16x224), outputs unchanged. fvcore count of our forward.
        "params": None if not paper else reference_params - UNUSED_REFERENCE_PARAMS,
        "gflops": gflops,
        "source": source,
        "paper": paper,
    }


# Reference parameter counts and fvcore GFLOPs per view: measured in the spec (K400 rows at 16x224), the 336 and
# 32-frame GFLOPs from the analytic count that reproduces the measured ones; EPIC heads 97 + 300 (nouns fixed).
VARIANT_INFO: dict[str, dict[str, Any]] = {
    "joint_224_16x4": _info("joint_224_16x4", 87_883_408, 180.64, 180.63, _CONFIG_ROOT + "K400/joint_224_16x4.yaml"),
    "divided_224_16x4": _info("divided_224_16x4", 116_250_256, 185.77, 185.76,
                              _CONFIG_ROOT + "K400/divided_224_16x4.yaml"),
    "motionformer_224_16x4": _info("motionformer_224_16x4", 109_144_720, 369.51, 280.72,
                                   _CONFIG_ROOT + "K400/motionformer_224_16x4.yaml"),
    "motionformer_336_16x4": _info("motionformer_336_16x4", 109_144_720, 958.7, 758.96,
                                   _CONFIG_ROOT + "K600/motionformer_336_16x4.yaml"),
    "motionformer_336_16x8": _info("motionformer_336_16x8", 109_144_720, 958.7, 758.96,
                                   _CONFIG_ROOT + "K400/motionformer_336_16x8.yaml"),
    "motionformer_224_32x3": _info("motionformer_224_32x3", 109_150_864, 1185.2, 830.02,
                                   _CONFIG_ROOT + "K400/motionformer_224_32x3.yaml"),
    "ek_joint_224_16x4": _info("ek_joint_224_16x4", 87_881_101, 180.64, 180.63, _CONFIG_ROOT + "EK/joint_224_16x4.yaml",
                               num_classes=97),
    "ek_divided_224_16x4": _info("ek_divided_224_16x4", 116_247_949, 185.77, 185.76,
                                 _CONFIG_ROOT + "EK/divided_224_16x4.yaml", num_classes=97),
    "ek_motionformer_224_16x4": _info("ek_motionformer_224_16x4", 109_142_413, 369.51, 280.72,
                                      _CONFIG_ROOT + "EK/motionformer_224_16x4.yaml", num_classes=97),
    "ek_motionformer_336_16x4": _info("ek_motionformer_336_16x4", 109_142_413, 958.7, 758.96,
                                      _CONFIG_ROOT + "EK/motionformer_336_16x4.yaml", num_classes=97),
    "ek_motionformer_224_32x3": _info("ek_motionformer_224_32x3", 109_148_557, 1185.2, 830.02,
                                      _CONFIG_ROOT + "EK/motionformer_224_32x3.yaml", num_classes=97),
    "motionformer_tiny": _info("motionformer_tiny", None, None, 0.006, "not from the paper: tests and CI",
                               num_classes=10),
}

# CI smoke run (ci/SMOKE_CONTRACT.md): tiny model on the synthetic dataset's PySlowFast csv and mp4s.
SMOKE_ARGS: dict[str, list[str]] = {
    "train": ["--preset", "tiny_synthetic", "--data-root", "{data_root}", "--output-dir", "{train_dir}",
              "--max-steps", "2", "--batch-size", "2", "--workers", "0", "--val-list", "", "--no-progress"],
    "test": ["--preset", "tiny_synthetic", "--checkpoint", "{train_dir}/checkpoints/last.pth",
             "--data-root", "{data_root}", "--num-clips", "2", "--num-crops", "3", "--output-dir", "{test_dir}",
             "--workers", "0", "--no-progress"],
}
