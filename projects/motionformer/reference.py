"""Build the reference implementation's model from a local checkout of facebookresearch/Motionformer.

For parity measurements and benchmarks only: tests never import this module, and nothing from the checkout is
copied into this repository. The checkout needs ``timm`` and ``einops`` importable (e.g. on ``PYTHONPATH``); the
``ffmpeg`` package its dataset utilities import is replaced by an empty module when missing.

    python -m projects.motionformer.reference --checkout /tmp/Motionformer --variant motionformer_tiny
prints the max-abs differences between the reference and this model on the reference's random weights.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path
from typing import Any

import torch
from torch import nn

from projects.motionformer.model import VARIANTS, build_model, convert_reference_state_dict, is_two_head


class PySlowFastInput(nn.Module):
    """Feeds the reference model our ``[B, 3, T, H, W]`` clip as the one-pathway list PySlowFast models take."""

    def __init__(self, reference: nn.Module) -> None:
        super().__init__()
        self.reference = reference

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.reference([clip])


def build_reference_model(checkout: Path, variant: str, num_classes: int | None = None,
                          original_traj_attn: bool = True, approx: str = "none", num_landmarks: int = 128,
                          **overrides: Any) -> torch.nn.Module:
    """The reference ``VisionTransformer`` configured like ``variant`` (random init, no ImageNet download).

    ``overrides`` take this project's ``Motionformer`` argument names (``embed_dim``, ``depth``, ``num_heads``,
    ``num_frames``, ``img_size``, ``patch_size``, ``drop_path_rate``) for small parity runs.
    """
    checkout = Path(checkout).resolve()
    if not (checkout / "slowfast" / "models" / "vit_helper.py").is_file():
        raise FileNotFoundError(f"{checkout} is not a Motionformer checkout (no slowfast/models/vit_helper.py)")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    sys.modules.setdefault("ffmpeg", types.ModuleType("ffmpeg"))
    defaults = importlib.import_module("slowfast.config.defaults")
    builder = importlib.import_module("slowfast.models.video_model_builder")

    cfg = VARIANTS[variant]
    args = {**cfg.arch, "num_frames": cfg.num_frames, "img_size": cfg.input_size, **overrides}
    if args.get("pretrain_img_size", 224) != 224:
        raise ValueError("the reference always builds its spatial table for 224 px; use a 224-pretrain variant")
    epic = is_two_head(variant)
    cfg = defaults.get_cfg()
    cfg.TRAIN.DATASET = "Epickitchens" if epic else "Kinetics"
    cfg.MODEL.NUM_CLASSES = num_classes or 400
    cfg.DATA.TRAIN_CROP_SIZE = args["img_size"]
    cfg.DATA.NUM_FRAMES = args["num_frames"]
    cfg.VIT.PATCH_SIZE = args.get("patch_size", 16)
    cfg.VIT.PATCH_SIZE_TEMP = 2
    cfg.VIT.TEMPORAL_RESOLUTION = args["num_frames"] // 2
    cfg.VIT.EMBED_DIM = args.get("embed_dim", 768)
    cfg.VIT.DEPTH = args.get("depth", 12)
    cfg.VIT.NUM_HEADS = args.get("num_heads", 12)
    cfg.VIT.MLP_RATIO = args.get("mlp_ratio", 4)
    cfg.VIT.DROP_PATH = args.get("drop_path_rate", 0.2)
    cfg.VIT.USE_MLP = True
    cfg.VIT.HEAD_ACT = "tanh"
    cfg.VIT.IM_PRETRAINED = False
    cfg.VIT.ATTN_LAYER = args["attention"]
    cfg.VIT.POS_EMBED = args.get("pos_embed_type", "separate")
    cfg.VIT.USE_ORIGINAL_TRAJ_ATTN_CODE = original_traj_attn
    cfg.VIT.APPROX_ATTN_TYPE = approx
    cfg.VIT.APPROX_ATTN_DIM = num_landmarks
    return PySlowFastInput(builder.VisionTransformer(cfg))


def measure_parity(checkout: Path, variant: str, batch: int = 2, seed: int = 0, original_traj_attn: bool = True,
                   approx: str = "none", num_landmarks: int = 128, **overrides: Any) -> dict[str, float]:
    """Max-abs differences between the reference and this model on the reference's random weights.

    The reference returns softmax probabilities in eval mode; they are compared with ours after a softmax, and
    the pre-tanh pre-logits features are compared directly.
    """
    options = {"original_traj_attn": original_traj_attn, "approx": approx, "num_landmarks": num_landmarks}
    torch.manual_seed(seed)
    reference = build_reference_model(checkout, variant, **options, **overrides).reference.eval()  # raw model
    with torch.no_grad():  # unit-scale random weights (the reference's init zeroes the tubelet kernel)
        for parameter in reference.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, parameter[0].numel() ** -0.5)
            else:
                parameter.add_(0.1 * torch.randn_like(parameter))
    ours = build_model(variant, attn_backend="math", **options, **overrides).eval()
    ours.load_state_dict(convert_reference_state_dict(reference.state_dict(), variant), strict=True)
    clip = torch.randn(batch, 3, ours.num_frames, ours.img_size, ours.img_size)
    outputs = {}
    with torch.no_grad():
        for name, model, model_input in (("reference", reference, [clip]), ("ours", ours, clip)):
            captured = []  # the pre-tanh feature: tanh saturates and would hide differences
            hook = model.pre_logits.fc.register_forward_hook(lambda module, args, out: captured.append(out))
            torch.manual_seed(seed + 1)  # the same random first Orthoformer landmark in both models
            scores = model(model_input)
            hook.remove()
            scores = list(scores.values()) if isinstance(scores, dict) else scores
            outputs[name] = (captured[0], scores if isinstance(scores, list) else [scores])
    reference_feature, our_feature = outputs["reference"][0], outputs["ours"][0]
    result = {"pre_logits_max_abs_diff": (reference_feature - our_feature).abs().max().item(),
              "pre_logits_max_abs": reference_feature.abs().max().item()}
    if ours.attention == "trajectory":  # control: how far the other stage-2 value path moves the same feature
        for module in ours.modules():
            if hasattr(module, "original"):
                module.original = not module.original
        captured = []
        hook = ours.pre_logits.fc.register_forward_hook(lambda module, args, out: captured.append(out))
        with torch.no_grad():
            torch.manual_seed(seed + 1)
            ours(clip)
        hook.remove()
        result["control_other_value_path_max_abs_diff"] = (captured[0] - our_feature).abs().max().item()
    for index, (ref, mine) in enumerate(zip(outputs["reference"][1], outputs["ours"][1])):
        result[f"head{index}_prob_max_abs_diff"] = (ref - mine.softmax(-1)).abs().max().item()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, required=True, help="local facebookresearch/Motionformer checkout")
    parser.add_argument("--variant", default="motionformer_224_16x4", choices=sorted(VARIANTS))
    parser.add_argument("--improved", action="store_true", help="compare the corrected (paper) trajectory path")
    parser.add_argument("--approx", default="none", choices=("none", "orthoformer"))
    parser.add_argument("--num-landmarks", type=int, default=128)
    parser.add_argument("--embed-dim", type=int, help="reduce the width for a quick CPU run")
    parser.add_argument("--depth", type=int, help="reduce the depth for a quick CPU run")
    parser.add_argument("--num-heads", type=int)
    parser.add_argument("--num-frames", type=int)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    overrides = {key: value for key, value in (("embed_dim", args.embed_dim), ("depth", args.depth),
                 ("num_heads", args.num_heads), ("num_frames", args.num_frames)) if value is not None}
    result = measure_parity(args.checkout, args.variant, args.batch, original_traj_attn=not args.improved,
                            approx=args.approx, num_landmarks=args.num_landmarks, **overrides)
    for key, value in result.items():
        print(f"{key}: {value:.3e}")


if __name__ == "__main__":
    main()
