"""Build the reference models from a local checkout of weidafeng/Efficient-SlowFast, for parity, speed and memory
measurements only; run as a module it measures the agreement of ours with the reference:

    python -m projects.efficient_slowfast.reference --reference-checkout ~/Efficient-SlowFast \
        --variant slowfast_dual_r50 --frames 32 --size 224 --batch-size 1

Never imported by tests or by the rest of the project: the reference code is not part of this repository. Point
``checkout`` at a clone of https://github.com/weidafeng/Efficient-SlowFast (its root, or its ``SlowFast/``
folder). The fork imports detectron2 (ROIAlign), mmcv (an unused block) and simplejson at module level; modules
that are not installed are replaced by empty stand-ins, which the model classes never touch.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import io
import json
import resource
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn

from projects.efficient_slowfast.models import (VARIANTS, build_model, convert_reference_state_dict,
                                               slow_frame_indices)

_CLASSES = {  # our variant -> (yaml token of configs/Kinetics/SLOWFAST_<token>_8x8_R50_stepwise_multigrid.yaml, class)
    "slowfast_dual_r50": ("DUAL", "SlowFastDualAttention"),
    "slowfast_shufflenetv2": ("SHUFFLENETV2", "SlowFastShuffleNetV2"),
    "slowfast_shufflenet": ("SHUFFLENET", "SlowFastShuffleNet"),
    "slowfast_mobilenetv2": ("MOBILENETV2", "SlowFastMoibleNetV2"),
    "slowfast_ghostnet": ("GHOSTNET", "SlowFastGhostNet"),
    "slowfast_tiny": ("SHUFFLENETV2", "SlowFastShuffleNetV2"),
}
_BASELINE_YAML = "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid_DUAL.yaml"
_STAND_INS = {"detectron2": {}, "detectron2.layers": {"ROIAlign": object}, "mmcv": {},
              "mmcv.cnn": {"constant_init": None, "kaiming_init": None}, "simplejson": vars(json)}


class ReferenceWrapper(nn.Module):
    """Takes our ``[B, 3, T, H, W]`` clip and feeds the reference its ``[slow, fast]`` list (a fresh one per call:
    the reference's stems overwrite the list they get, Q10). In eval mode the reference returns its head's
    activation (softmax; ReLU'd logits for GhostNet), in train mode logits."""

    def __init__(self, reference: nn.Module, alpha: int = 4) -> None:
        super().__init__()
        self.reference = reference
        self.alpha = alpha

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        slow = clips.index_select(2, slow_frame_indices(clips.shape[2], self.alpha, clips.device))
        return self.reference([slow, clips])


def _slowfast_root(checkout: Path) -> Path:
    for root in (checkout, checkout / "SlowFast"):
        if (root / "slowfast" / "models" / "custom_video_model_builder.py").is_file():
            return root
    raise FileNotFoundError(f"{checkout} is not a checkout of weidafeng/Efficient-SlowFast "
                            "(slowfast/models/custom_video_model_builder.py not found)")


def _import_fork(checkout: Path) -> Path:
    """Put the fork on ``sys.path`` (stand-ins for the imports it does not need) and return its root."""
    root = _slowfast_root(Path(checkout).expanduser().resolve())
    for name, attributes in _STAND_INS.items():
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    with contextlib.redirect_stdout(io.StringIO()):
        package = importlib.import_module("slowfast.models.custom_video_model_builder")
    if not str(Path(package.__file__).resolve()).startswith(str(root)):
        raise ImportError(f"another 'slowfast' package shadows the checkout: {package.__file__}")
    return root


def build_reference_fusion(checkout: Path, slow_channels: int, fast_channels: int, alpha: int = 4,
                           beta_inv: int = 8) -> nn.Module:
    """The fork's ``FuseFastAndSlow`` (CMDA) layer; it takes and returns a ``[slow, fast]`` list."""
    _import_fork(checkout)
    builders = importlib.import_module("slowfast.models.custom_video_model_builder")
    with contextlib.redirect_stdout(io.StringIO()):
        return builders.FuseFastAndSlow([slow_channels, fast_channels], alpha, beta_inv)


def build_reference_model(checkout: Path, variant: str, num_classes: int | None = None,
                          width_mult: float | None = None, groups: int | None = None) -> nn.Module:
    """The reference model of ``variant`` built from the fork's Kinetics yaml (plus the variant's width / groups,
    or the given ones), wrapped to take our clip layout. Its ``reference.state_dict()`` has the fork's key
    layout, which :func:`projects.efficient_slowfast.convert_reference_state_dict` converts."""
    if variant not in _CLASSES and variant != "slowfast_r50":
        raise KeyError(f"unknown variant {variant!r}")
    root = _import_fork(checkout)
    with contextlib.redirect_stdout(io.StringIO()):  # the fork prints channel lists while building
        cfg = importlib.import_module("slowfast.config.defaults").get_cfg()
        token, class_name = _CLASSES.get(variant, (None, "SlowFast"))
        yaml = root / (_BASELINE_YAML if token is None else
                       f"configs/Kinetics/SLOWFAST_{token}_8x8_R50_stepwise_multigrid.yaml")
        cfg.merge_from_file(str(yaml))
        cfg.NUM_GPUS = 0
        cfg.MODEL.NUM_CLASSES = VARIANTS[variant].num_classes if num_classes is None else num_classes
        arch = VARIANTS[variant].arch
        cfg.SLOWFAST.WIDTH_MULTI = width_mult if width_mult is not None else arch.get("width_mult", 2.0)
        cfg.SLOWFAST.GROUPS = groups if groups is not None else arch.get("groups", 1)
        module_name = "video_model_builder" if token is None else "custom_video_model_builder"
        builders = importlib.import_module(f"slowfast.models.{module_name}")
        model = getattr(builders, class_name)(cfg)
    return ReferenceWrapper(model, cfg.SLOWFAST.ALPHA)


def randomise_(model: nn.Module, seed: int = 0) -> None:
    """Random BN statistics and affine parameters, attention ``gamma``, ECA and classifier weights and conv biases,
    so that no part of the model is an identity or zero at initialisation and every converted name is exercised."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                if module.weight is not None:
                    module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                    module.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            if isinstance(getattr(module, "gamma", None), nn.Parameter):
                module.gamma.copy_(torch.randn(module.gamma.shape, generator=gen) * 0.5 + 1.0)
            if isinstance(module, nn.Conv1d):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen))
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * 0.05)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
            if isinstance(module, nn.Conv3d) and module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)


def _outputs(model: nn.Module, clips: torch.Tensor, mode: str) -> torch.Tensor:
    """One no-grad forward in ``mode`` ("eval", or "train": batch statistics, dropout off)."""
    model.train(mode == "train")
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    with torch.no_grad():
        return model(clips)


def peak_rss_bytes() -> int:
    """This process's peak resident set so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def add_comparison_args(parser: argparse.ArgumentParser) -> None:
    """The arguments every ours-against-the-reference tool of this project takes (this one, ``step_profile``)."""
    parser.add_argument("--reference-checkout", type=Path, required=True)
    parser.add_argument("--variant", default="slowfast_dual_r50")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--num-classes", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projects.efficient_slowfast.reference",
                                     description="Largest relative difference of ours against the reference, with the "
                                                 "same (randomised) weights; one model in memory at a time.")
    add_comparison_args(parser)
    parser.add_argument("--attn-backend", default="sdpa", help="ours: sdpa or math")
    parser.add_argument("--modes", nargs="+", default=["eval", "train"], choices=["eval", "train"])
    parser.add_argument("--alone", action="store_true", help="also ours on each clip alone against the batch (eval)")
    parser.add_argument("--max-attention-gib", type=float, default=12.0,
                        help="skip the reference if its largest fusion's two N x N matrices (the attention's "
                             "product and softmax, fp32) would exceed this")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    positions = args.frames // 4 * (args.size // 4) ** 2  # slow positions of the first fusion (dual R50: s1_fuse)
    attention_gib = 2 * args.batch_size * positions ** 2 * 4 / 2**30
    print(f"{args.variant} {args.frames}x{args.size} batch {args.batch_size}: reference N = {positions}, two N x N "
          f"matrices {attention_gib:.1f} GiB", flush=True)
    if attention_gib > args.max_attention_gib:
        print(f"reference skipped: {attention_gib:.1f} GiB > --max-attention-gib {args.max_attention_gib}")
        return 1
    clips = torch.randn(args.batch_size, 3, args.frames, args.size, args.size,
                        generator=torch.Generator().manual_seed(1))  # [B, 3, T, S, S]
    reference = build_reference_model(args.reference_checkout, args.variant, args.num_classes)
    randomise_(reference.reference)
    state = {k: v.clone() for k, v in reference.reference.state_dict().items()}  # before train mode moves BN stats
    logits: dict[str, torch.Tensor] = {}
    linear = [m for m in reference.modules() if isinstance(m, nn.Linear)][-1]
    linear.register_forward_hook(lambda module, inputs, out: logits.__setitem__("last", out.detach().flatten(1)))
    theirs = {}
    for mode in args.modes:
        start = time.perf_counter()
        activation = _outputs(reference, clips, mode)
        theirs[mode] = (logits["last"].clone(), activation)
        print(f"reference {mode}: {time.perf_counter() - start:.0f} s, max RSS {peak_rss_bytes() / 2**30:.2f} GiB", flush=True)
    del reference, linear
    gc.collect()
    ours = build_model(args.variant, args.num_classes, attn_backend=args.attn_backend)
    ours.load_state_dict(convert_reference_state_dict(state, args.variant), strict=True)
    del state
    results = {}
    for mode in args.modes:
        start = time.perf_counter()
        out = _outputs(ours, clips, mode)
        their_logits, their_activation = theirs[mode]
        results[f"{mode}_logits"] = _relative(out, their_logits)
        if mode == "eval":  # the reference's eval output is its head's activation; in train mode, the logits
            activation = torch.relu(out) if args.variant == "slowfast_ghostnet" else torch.softmax(out, -1)
            results["eval_activation"] = _relative(activation, their_activation)
        print(f"ours ({args.attn_backend}) {mode}: {time.perf_counter() - start:.0f} s, "
              f"max RSS {peak_rss_bytes() / 2**30:.2f} GiB", flush=True)
    if args.alone and args.batch_size > 1:
        batch = _outputs(ours, clips, "eval")
        alone = torch.cat([_outputs(ours, clips[i:i + 1], "eval") for i in range(args.batch_size)])
        results["alone_vs_batch_eval"] = _relative(alone, batch)
    print(json.dumps({"variant": args.variant, "input": [args.frames, args.size], "batch": args.batch_size,
                      "attn_backend": args.attn_backend, "max_relative_difference": results,
                      "max_rss_gib": round(peak_rss_bytes() / 2**30, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
