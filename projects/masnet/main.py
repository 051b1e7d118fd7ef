"""Train MAS-Net (or its TSN / TSM baselines) with the reference recipe.

    python -m projects.masnet.main --preset ssv1_8f --data-root /data --pretrained resnet50-0676ba61.pth \
        --output-dir runs/ssv1_8f
    torchrun --nproc_per_node 4 -m projects.masnet.main --preset ssv1_8f ...   # DDP (the reference: DataParallel)
    cd projects/masnet && python main.py --help

``--preset`` sets every default of a configuration (``configs.py``); explicit flags win. Option names follow the
reference's ``opts.py`` where it has them (``--num_segments``, ``--lr_type MAS_lr``, ``--lr_steps``, ``--dropout``,
``--weight_decay``, ``--dense_sample``, ``--tune_from``); the run-directory, precision, resume and speed flags are
the shared engine's (``--output-dir``, ``--batch-size``, ``--amp``, ``--channels-last``, ``--resume auto``, ...).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # `cd projects/masnet && python main.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch
import torch.nn.functional as F

from common.data.loader import build_loader
from common.distributed import init_distributed, seed_everything
from common.engine.checkpoint import load_finetune_weights, unwrap_state_dict
from common.engine.cli import add_engine_args, parse_with_presets, per_process_batch_size
from common.engine.model_info import describe_model
from common.engine.param_groups import describe_param_groups, tsn_param_groups
from common.engine.schedules import LRSchedule, cosine, mas_lr, multistep
from common.engine.trainer import Trainer, TrainResult
from projects.masnet.configs import PRESETS
from projects.masnet.data import (add_data_args, class_names, read_records, resolve_num_classes, train_dataset,
                                  val_dataset)
from projects.masnet.model import VARIANTS, MASNet, build_model, convert_reference_state_dict


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Model flags shared by main.py, test.py and cam.py."""
    group = parser.add_argument_group("model")
    group.add_argument("--variant", "--arch", dest="variant", choices=sorted(VARIANTS), default="masnet_r50",
                       help="masnet_r50 / masnet_r101 (the reference's --arch resnet50 / resnet101), the tsn_r50 / "
                            "tsm_r50 baselines, or the small non-paper *_tiny variants")
    group.add_argument("--num_segments", type=int, default=8, help="frames per clip (T)")
    group.add_argument("--reference-msm-bug", action="store_true",
                       help="reproduce the reference's MSM skipping BN+ReLU when a device holds one clip (needed "
                            "only to match reference logits at batch 1; off = the same behaviour for any batch)")


def add_train_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("optimisation (reference opts.py names)")
    group.add_argument("--lr", "--learning-rate", dest="lr", type=float, default=0.01, help="base learning rate")
    group.add_argument("--lr_type", choices=("MAS_lr", "step_lr", "cos_lr"), default="MAS_lr",
                       help="MAS_lr: x0.1, x0.1, x0.5, x0.2 at the 4 --lr_steps; step_lr: x0.1 at each; cos_lr")
    group.add_argument("--lr_steps", type=float, nargs="+", default=[30, 40, 50, 60], help="schedule epochs")
    group.add_argument("--warmup", type=int, default=0, help="linear warm-up epochs (TSM rule: lr*(e+1)/W)")
    group.add_argument("--momentum", type=float, default=0.9)
    group.add_argument("--weight_decay", "--wd", dest="weight_decay", type=float, default=5e-4)
    group.add_argument("--dropout", "--dp", dest="dropout", type=float, default=0.5, help="before the new fc")
    group.add_argument("--partial_bn", action="store_true",
                       help="TSN partial BN: freeze every BN but the first (implemented but never enabled in the "
                            "reference)")
    group.add_argument("--pretrained", default=None,
                       help="torchvision ImageNet ResNet file (e.g. resnet50-0676ba61.pth) for the backbone")
    group.add_argument("--tune_from", default=None,
                       help="fine-tune from a checkpoint of this project or of the reference (the classifier is "
                            "re-initialised when its class count differs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m projects.masnet.main", description=__doc__.split("\n\n")[0])
    add_engine_args(parser)
    parser.set_defaults(grad_clip=20.0)  # the reference's --clip-gradient default
    add_model_args(parser)
    add_train_args(parser)
    add_data_args(parser)
    return parser


def read_weights(checkpoint: Any, variant: str) -> dict[str, torch.Tensor]:
    """Model weights of a loaded checkpoint of ours (``model``) or of the reference (``module.base_model.*``)."""
    state = unwrap_state_dict(checkpoint)
    if any(key.startswith(("base_model.", "new_fc.")) for key in state):
        state = convert_reference_state_dict(state, variant)
    return state


def model_from_args(args: argparse.Namespace, num_classes: int, **overrides: Any) -> MASNet:
    return build_model(args.variant, num_classes, num_segments=args.num_segments,
                       reference_single_clip_bn_skip=args.reference_msm_bug, **overrides)


def lr_schedule(args: argparse.Namespace) -> LRSchedule:
    """The reference's ``adjust_learning_rate``: evaluated at the start of every epoch."""
    if args.lr_type == "MAS_lr":
        policy = mas_lr(args.lr, args.lr_steps)
    elif args.lr_type == "step_lr":
        policy = multistep(args.lr, args.lr_steps)
    else:
        policy = cosine(args.lr, args.epochs)
    return LRSchedule(policy, args.lr, warmup_epochs=args.warmup, warmup_rule="tsm", per_step=False)


def main(argv: Sequence[str] | None = None) -> TrainResult:
    args = parse_with_presets(build_parser(), PRESETS, argv)
    info = init_distributed(args.device)
    seed_everything(args.seed + info.rank, args.deterministic)
    names = class_names(args)
    args.num_classes = resolve_num_classes(args, names)

    model = model_from_args(args, args.num_classes, dropout=args.dropout, partial_bn=args.partial_bn,
                            pretrained=args.pretrained)
    notes: list[str] = []
    if args.tune_from is not None:  # refuses a file that does not fit; a new class count re-initialises fc
        load_finetune_weights(model, args.tune_from, classifier_prefixes=("fc.",), log=notes.append,
                              converter=lambda state: read_weights(state, args.variant))

    batch_size = per_process_batch_size(args.batch_size, info.world_size)
    train_set = train_dataset(args, read_records(args, args.train_list, args.num_classes, "--train-list"), names)
    train_loader = build_loader(train_set, batch_size, train=True, num_workers=args.workers, seed=args.seed,
                                rank=info.rank, world_size=info.world_size)
    val_loader = None
    if args.val_list is not None:
        val_set = val_dataset(args, read_records(args, args.val_list, args.num_classes, "--val-list"))
        val_loader = build_loader(val_set, batch_size, train=False, num_workers=args.workers, seed=args.seed,
                                  rank=info.rank, world_size=info.world_size)

    # Partial BN lives in MASNet.train() (MSM's BN keeps batch statistics, as in the reference), not in the Trainer.
    groups = tsn_param_groups(model, args.weight_decay, partial_bn=args.partial_bn)
    optimizer = torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    trainer = Trainer(model, optimizer, lr_schedule(args), F.cross_entropy, train_loader, args, val_loader=val_loader,
                      dist_info=info)
    example = torch.zeros(1, 3, args.num_segments, args.input_size, args.input_size,
                          device=next(model.parameters()).device)  # [1, 3, T, H, W] for the FLOP count
    trainer.logger.info(f"{args.variant}: {describe_model(model, example)}, {args.num_classes} classes, "
                        f"{len(train_set.records)} training videos\n" + describe_param_groups(groups))
    for note in notes:
        trainer.logger.info(note)
    result = trainer.fit()
    trainer.logger.info(f"training {result.status}: epoch {result.epoch}, step {result.step}, "
                        f"best {args.best_metric} {result.best_metric}")
    return result


if __name__ == "__main__":
    sys.exit(main().exit_code)  # 143 / 130 after SIGTERM / Ctrl-C (saved; resume with --resume auto)
