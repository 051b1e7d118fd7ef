"""Train a Motionformer (joint / divided / trajectory attention) with the reference recipe.

    python -m projects.motionformer.main --preset k400_motionformer_224_16x4 --data-root data/k400 \
        --imagenet-weights jx_vit_base_p16_224-80ecf9dd.pth --output-dir runs/k400_mf
    torchrun --nproc_per_node 8 -m projects.motionformer.main --preset ...   # DDP

``--preset`` sets every default of one reference config (see configs.py); any flag overrides it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # `cd projects/motionformer && python main.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch
import torch.nn.functional as F

from common.data.loader import build_loader
from common.data.device_transforms import HALF_MEAN, HALF_STD, MixupCutmix, soft_target_cross_entropy
from common.distributed import init_distributed, seed_everything
from common.engine.checkpoint import (load_checkpoint, load_finetune_weights, load_state_dict_verbose,
                                      unwrap_state_dict)
from common.engine.cli import add_engine_args, parse_with_presets, per_process_batch_size, save_resolved_config
from common.engine.evaluate import topk_correct
from common.engine.model_info import describe_model
from common.engine.schedules import LRSchedule, steps_with_relative_lrs
from common.engine.trainer import ClipPreprocessor, Trainer, TrainResult
from projects.motionformer.configs import presets_for
from projects.motionformer.data import add_data_args, test_dataset, train_dataset
from projects.motionformer.model import (ATTN_BACKENDS, VARIANTS, Motionformer, build_model,
                                         convert_reference_state_dict, is_two_head, load_imagenet_vit)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Model flags shared by main.py and test.py."""
    group = parser.add_argument_group("model")
    group.add_argument("--variant", choices=sorted(VARIANTS), default="motionformer_224_16x4")
    group.add_argument("--original-traj-attn", action=argparse.BooleanOptionalAction, default=True,
                       help="reference stage-2 values (needed by the released weights); --no-original-traj-attn "
                            "selects the paper's corrected formulation")
    group.add_argument("--attn-backend", choices=ATTN_BACKENDS, default="sdpa",
                       help="sdpa (fused kernels on GPU), math (explicit) or triton (fused trajectory kernel)")
    group.add_argument("--approx", choices=("none", "orthoformer"), default="none",
                       help="approximate stage 1 of trajectory attention")
    group.add_argument("--num-landmarks", type=int, default=128, help="Orthoformer landmarks")
    group.add_argument("--pos-embed-type", choices=("separate", "joint"), default="separate",
                       help="separate spatial + temporal tables (every config) or one space-time table (st_embed)")
    group.add_argument("--bgr", action="store_true", help="feed BGR clips (the released EPIC models expect them)")


def model_from_args(args: argparse.Namespace, drop_path: float = 0.0) -> Motionformer:
    """The model the flags describe (EPIC: ``--num-classes`` verbs plus 300 nouns)."""
    return build_model(args.variant, args.num_classes, num_frames=args.num_frames, img_size=args.crop_size,
                       original_traj_attn=args.original_traj_attn, attn_backend=args.attn_backend,
                       approx=args.approx, num_landmarks=args.num_landmarks, drop_path_rate=drop_path,
                       pos_embed_type=args.pos_embed_type)


def load_weights(model: Motionformer, path: str, variant: str, strict: bool, log: Any = print) -> None:
    """Load this project's checkpoint or a reference ``.pyth``; non-strict loads skip shape-mismatched heads
    (the reference's fine-tuning rule for K400 -> SSv2 / EPIC)."""
    state = reference_to_ours(model, unwrap_state_dict(load_checkpoint(path), path), path, variant)
    load_state_dict_verbose(model, state, strict=strict, log=log, source=path)


def reference_to_ours(model: Motionformer, state: dict, path: str, variant: str) -> dict:
    """A reference ``.pyth``'s weights in our names (ours pass through); refuses a joint table the model lacks."""
    if "patch_embed_3d.proj.weight" in state:
        state = convert_reference_state_dict(state, variant)
    if "st_embed" in state and model.pos_embed_type != "joint":
        raise ValueError(f"{path} has a joint space-time position table (st_embed): add --pos-embed-type joint")
    return state


def epic_accuracy(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Verb / noun top-1 and top-5 counts, and action top-1 (verb and noun both right)."""
    counts = {}
    for head in ("verb", "noun"):
        counts.update({f"{head}_{k}": v for k, v in topk_correct(logits[head], labels[head]).items()})
    verb_hit = logits["verb"].argmax(1).eq(labels["verb"])
    counts["action_top1"] = (verb_hit & logits["noun"].argmax(1).eq(labels["noun"])).sum()
    return counts


def make_loss(args: argparse.Namespace, mixing: bool):
    """Label-smoothed cross-entropy (timm's LabelSmoothingCrossEntropy equals PyTorch's ``label_smoothing``);
    soft-target cross-entropy after mixup/cutmix; EPIC: the mean of the verb and noun losses."""
    def loss_fn(logits: Any, targets: Any) -> torch.Tensor:
        if isinstance(logits, dict):
            return 0.5 * sum(F.cross_entropy(logits[h], targets[h], label_smoothing=args.label_smoothing)
                             for h in ("verb", "noun"))
        if mixing:
            return soft_target_cross_entropy(logits, targets)
        return F.cross_entropy(logits, targets, label_smoothing=args.label_smoothing)
    return loss_fn


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train Motionformer (joint / divided / trajectory attention).")
    add_engine_args(parser)
    add_model_args(parser)
    add_data_args(parser)
    train = parser.add_argument_group("training recipe")
    train.add_argument("--lr", type=float, default=1e-4, help="base lr for the global --batch-size")
    train.add_argument("--weight-decay", type=float, default=0.05, help="AdamW decay (on every parameter)")
    train.add_argument("--lr-steps", type=float, nargs="+", default=[0, 20, 30], help="epochs where the lr changes")
    train.add_argument("--lr-factors", type=float, nargs="+", default=[1.0, 0.1, 0.01], help="lr multipliers")
    train.add_argument("--warmup-epochs", type=float, default=0.0)
    train.add_argument("--label-smoothing", type=float, default=0.2)
    train.add_argument("--drop-path", type=float, default=0.2, help="stochastic depth of the last block")
    train.add_argument("--mixup-alpha", type=float, default=0.0, help="off in every reference config")
    train.add_argument("--cutmix-alpha", type=float, default=0.0, help="off in every reference config")
    train.add_argument("--rand-augment", type=str, default="", help="timm-style config, e.g. rand-m20-mstd0.5-inc1")
    train.add_argument("--random-resized-crop", action="store_true", help="Inception crop instead of jitter+crop")
    train.add_argument("--jitter-min", type=int, default=256, help="short side drawn from [min, max]")
    train.add_argument("--jitter-max", type=int, default=320)
    train.add_argument("--inverse-uniform", action="store_true", help="draw 1/short side uniformly (SSv2)")
    train.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True)
    train.add_argument("--color-jitter", action="store_true", help="brightness/contrast/saturation 0.4, p 0.8")
    train.add_argument("--imagenet-weights", type=str, default=None,
                       help="local timm ViT-B/16 file (jx_vit_base_p16_224-80ecf9dd.pth) to initialise from")
    train.add_argument("--finetune", type=str, default=None,
                       help="initialise from a checkpoint (ours or a reference .pyth), skipping mismatched heads")
    return parser


def main(argv: Sequence[str] | None = None) -> TrainResult:
    parser = build_parser()
    args = parse_with_presets(parser, presets_for(parser), argv)
    epic = is_two_head(args.variant)
    if (args.dataset == "epic") != epic:
        parser.error(f"--dataset {args.dataset} needs {'an ek_* ' if args.dataset == 'epic' else 'a non-EPIC '}"
                     f"variant, got {args.variant}")
    info = init_distributed(args.device)
    seed_everything(args.seed + info.rank, args.deterministic)
    save_resolved_config(args, args.output_dir)

    model = model_from_args(args, args.drop_path)
    notes = []
    if args.imagenet_weights:
        left = load_imagenet_vit(model, args.imagenet_weights)
        notes.append(f"ImageNet ViT init from {args.imagenet_weights}; not in that file (kept at their initial "
                     f"values): {', '.join(left)}")
    if args.finetune:  # refuses a file that does not fit; heads of another class count are re-initialised
        load_finetune_weights(model, args.finetune, classifier_prefixes=("head.", "head_verb.", "head_noun."),
                              converter=lambda state: reference_to_ours(model, state, args.finetune, args.variant),
                              log=notes.append)
    # Reference: AdamW with decay on every parameter (its no_weight_decay list is never used).
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=args.weight_decay)
    schedule = LRSchedule(steps_with_relative_lrs(args.lr, args.lr_steps, args.lr_factors), args.lr,
                          warmup_epochs=args.warmup_epochs)
    mixing = args.mixup_alpha > 0 or args.cutmix_alpha > 0
    if mixing and epic:
        parser.error("mixup/cutmix is not defined for the two-head EPIC models")
    mixup = MixupCutmix(args.mixup_alpha, args.cutmix_alpha, args.label_smoothing, args.num_classes) \
        if mixing else None
    batch = per_process_batch_size(args.batch_size, info.world_size)
    train_loader = build_loader(train_dataset(args, args.train_list), batch, train=True, num_workers=args.workers,
                                seed=args.seed, rank=info.rank, world_size=info.world_size)
    val_loader = None
    if args.val_list:
        # One deterministic centre view per video (the reference validates on random train-style crops).
        val_loader = build_loader(test_dataset(args, args.val_list, 1, 1), batch, train=False,
                                  num_workers=args.workers, seed=args.seed, rank=info.rank,
                                  world_size=info.world_size)
    if epic and args.best_metric == "top1":
        args.best_metric = "action_top1"
    trainer = Trainer(model, optimizer, schedule, make_loss(args, mixing), train_loader, args,
                      val_loader=val_loader, preprocess=ClipPreprocessor(HALF_MEAN, HALF_STD, bgr=args.bgr,
                                                                         mixup=mixup),
                      accuracy_fn=epic_accuracy if epic else topk_correct, dist_info=info)
    example = torch.zeros(1, 3, args.num_frames, args.crop_size, args.crop_size,
                          device=next(model.parameters()).device)  # [1, 3, T, H, W] for the FLOP count
    for note in notes + [describe_model(model, example)]:
        trainer.logger.info(note)
    result = trainer.fit()
    trainer.logger.info(f"training {result.status} at epoch {result.epoch}, step {result.step}")
    return result


if __name__ == "__main__":
    sys.exit(main().exit_code)  # 143 / 130 after SIGTERM / Ctrl-C (saved; resume with --resume auto)
