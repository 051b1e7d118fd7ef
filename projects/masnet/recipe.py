"""MAS-Net's recipe for the shared entry points (``common.engine.app``): the reference's flags, presets, data
dialect (TSM repo), SGD with TSN parameter groups, step / ``MAS_lr`` / cosine schedules and its test protocols.

Reference spellings (``opts.py`` and ``test.py`` of the MAS-Net repo) are aliases of the shared flags:
``--num_segments`` / ``--test_segments`` = ``--num-frames``, ``--input-size`` = ``--crop-size``, ``--tune_from`` =
``--finetune``, ``--warmup`` = ``--warmup-epochs``, ``--lr_steps`` = ``--lr-steps``, ``--test_crops`` =
``--num-crops``, ``--weights`` = ``--checkpoint``, ``--test_list`` = ``--val-list``, ``--arch`` = ``--variant``;
``--lr_type MAS_lr | step_lr | cos_lr`` sets ``--lr-policy`` and ``--lr-factors`` as the reference's schedule.
"""
from __future__ import annotations

import argparse
from typing import Any, Mapping

import torch
from torch import nn

from common.engine.checkpoint import require_keys, unwrap_state_dict
from common.engine.param_groups import describe_param_groups, tsn_param_groups
from common.engine.recipe import Log, Recipe, RecipeError, ViewSpec
from projects.masnet.configs import MAS_LR_FACTORS, PRESETS
from common.data.samplers import drop_short_videos
from projects.masnet.data import (add_data_args, class_names, multiview_dataset, read_records, resolve_num_classes,
                                  train_dataset, val_dataset)
from projects.masnet.model import VARIANTS, MASNet, build_model, convert_reference_state_dict


class MASNetRecipe(Recipe):
    """Train or test MAS-Net (or its TSN / TSM baselines) with the reference recipe.

    python -m projects.masnet.main --preset ssv1_8f --data-root /data --pretrained resnet50-0676ba61.pth \\
        --output-dir runs/ssv1_8f
    python -m projects.masnet.test --preset ssv1_8f --data-root /data --checkpoint runs/ssv1_8f/checkpoints/best.pth \\
        --num-crops 3 --twice_sample --full_res --output-dir runs/ssv1_8f_test_2x3

    Test views: --num-crops 1 / 3 / 5 / 10 TSM crops of --crop-size (--full_res: of --scale-size); clips: 1 (segment
    centres), --twice_sample (2: centres and starts), --dense_sample --dense_sample_num D (D uniform TSN clips, the
    reference's test-time meaning), or --num-clips N (2 = twice, N > 2 = dense). A video's score is the mean of its
    views' logits; the paper's EN rows sum two runs' scores.npz with python -m common.tools.average_scores.
    """

    name = "masnet"
    variants = VARIANTS
    presets = PRESETS
    defaults: Mapping[str, Any] = dict(
        variant="masnet_r50", num_frames=8, crop_size=224, scale_size=256, lr=0.01, weight_decay=5e-4,
        lr_policy="step", lr_steps=[30, 40, 50, 60], lr_factors=MAS_LR_FACTORS, grad_clip=20.0,
    )
    flag_aliases = {
        "--num-frames": ("--num_segments", "--test_segments"), "--crop-size": ("--input-size", "--input_size"),
        "--finetune": ("--tune_from",), "--warmup-epochs": ("--warmup",), "--lr-steps": ("--lr_steps",),
        "--num-crops": ("--test_crops",), "--checkpoint": ("--weights",), "--val-list": ("--test_list",),
        "--variant": ("--arch",), "--weight-decay": ("--weight_decay", "--wd"), "--lr": ("--learning-rate",),
        "--data-root": ("--dataset_path",), "--grad-clip": ("--clip-gradient", "--gd"), "--workers": ("-j",),
    }
    classifier_prefixes = ("fc.",)
    # TSM's adjust_learning_rate: lr * (epoch + 1) / W during warm-up, evaluated at epoch starts only.
    warmup_rule = "tsm"
    per_step_lr = False

    def add_args(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("MAS-Net")
        group.add_argument("--lr_type", choices=("MAS_lr", "step_lr", "cos_lr"), default=None,
                           help="the reference's schedule names (sets --lr-policy and --lr-factors): MAS_lr x0.1, "
                                "x0.1, x0.5, x0.2 at 4 --lr-steps (else step_lr); step_lr x0.1 at each; cos_lr")
        group.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
        group.add_argument("--dropout", "--dp", dest="dropout", type=float, default=0.5, help="before the new fc")
        group.add_argument("--partial-bn", "--partial_bn", action=argparse.BooleanOptionalAction, default=False,
                           help="TSN partial BN: freeze every BN but the first (in the reference, never enabled)")
        group.add_argument("--reference-msm-bug", action=argparse.BooleanOptionalAction, default=False,
                           help="reproduce the reference's MSM skipping BN+ReLU when a device holds one clip (only "
                                "to match reference logits at batch 1)")
        group.add_argument("--twice-sample", "--twice_sample", action=argparse.BooleanOptionalAction, default=False,
                           help="test.py: 2 clips, segment centres and starts")
        group.add_argument("--dense-sample-num", "--dense_sample_num", type=int, default=10,
                           help="test.py: clips of --dense_sample")
        group.add_argument("--full-res", "--full_res", action=argparse.BooleanOptionalAction, default=False,
                           help="test.py: crop at --scale-size instead of --crop-size")
        add_data_args(parser)

    def multigrid_capability(self, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
        """Any crop (global pooling); not another clip length: the temporal shift and the attention modules are
        built for ``--num-frames`` segments, so only ``--multigrid-short`` applies."""
        return False, True, f"the temporal shift and attention are built for --num-frames {cfg.num_frames} segments"

    def resolve(self, cfg: argparse.Namespace, mode: str, weights: Mapping[str, torch.Tensor] | None) -> None:
        if cfg.lr_type == "cos_lr":
            cfg.lr_policy = "cosine"
        elif cfg.lr_type is not None:
            cfg.lr_policy = "step"
            mas = cfg.lr_type == "MAS_lr" and len(cfg.lr_steps) == 4
            cfg.lr_factors = list(MAS_LR_FACTORS) if mas else [10.0 ** -(i + 1) for i in range(len(cfg.lr_steps))]
        names = class_names(cfg)
        if mode == "test":
            require_keys(weights, ["fc.weight"], cfg.checkpoint, "a checkpoint of projects.masnet.main or of the "
                         "MAS-Net reference")
            num_classes = weights["fc.weight"].shape[0]
            if names is not None and len(names) != num_classes:
                raise RecipeError(f"{cfg.checkpoint} has {num_classes} classes, {cfg.category_file} names "
                                  f"{len(names)}")
            cfg.num_classes = num_classes
        else:
            cfg.num_classes = resolve_num_classes(cfg, names)
        list_flag, list_file = ("--train-list", cfg.train_list) if mode == "train" else ("--val-list", cfg.val_list)
        if list_file is None:
            raise RecipeError(f"{list_flag} is required")
        if mode == "test" and cfg.twice_sample and cfg.dense_sample:
            raise RecipeError("--twice_sample and --dense_sample exclude each other (the reference crashes on both)")

    def build_model(self, cfg: argparse.Namespace, log: Log = print) -> MASNet:
        return build_model(cfg.variant, cfg.num_classes, num_segments=cfg.num_frames, pretrained=cfg.pretrained,
                           reference_single_clip_bn_skip=cfg.reference_msm_bug, dropout=cfg.dropout,
                           partial_bn=cfg.partial_bn)

    def weights(self, checkpoint: Any, cfg: argparse.Namespace) -> dict[str, torch.Tensor]:
        """Ours (``model``) or the reference's (``module.base_model.*``, converted)."""
        state = unwrap_state_dict(checkpoint)
        if any(key.startswith(("base_model.", "new_fc.")) for key in state):
            state = convert_reference_state_dict(state, cfg.variant)
        return state

    def dataset(self, cfg: argparse.Namespace, split: str, views: ViewSpec | None = None) -> Any:
        # The reference's list parser drops videos too short to sample (TSM: < 3 frames; MAS-Net: < new_length)
        # from training and validation lists, never from test lists.
        rule = "masnet" if cfg.variant.startswith("masnet") else "tsm"
        if split == "train":
            records = read_records(cfg, cfg.train_list, cfg.num_classes, "--train-list")
            return train_dataset(cfg, drop_short_videos(records, rule), class_names(cfg))
        records = read_records(cfg, cfg.val_list, cfg.num_classes, "--val-list")
        if split == "val":
            return val_dataset(cfg, drop_short_videos(records, rule))
        return multiview_dataset(cfg, records, views.num_clips, views.num_crops, cfg.full_res)

    def optimizer(self, cfg: argparse.Namespace, model: nn.Module, log: Log = print) -> torch.optim.Optimizer:
        # Partial BN lives in MASNet.train() (MSM's BN keeps batch statistics, as in the reference).
        groups = tsn_param_groups(model, cfg.weight_decay, partial_bn=cfg.partial_bn)
        log(describe_param_groups(groups))
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    def test_protocol(self, cfg: argparse.Namespace) -> ViewSpec:
        num_clips = 2 if cfg.twice_sample else cfg.dense_sample_num if cfg.dense_sample else cfg.num_clips
        crop = cfg.scale_size if cfg.full_res else cfg.crop_size
        return ViewSpec(num_clips, cfg.num_crops, aggregate="mean", score="logits", classes=cfg.num_classes,
                        class_names=class_names(cfg),
                        summary={"crop_size": float(crop), "test_segments": float(cfg.num_frames)})


    # ------------------------------------------------------------------------------------------------ explain
    explain_layers = ("layer4",)  # the last ResNet stage: the reference's CAM layer

    def view_dataset(self, cfg: argparse.Namespace, records: Any, views: ViewSpec) -> Any:
        return multiview_dataset(cfg, list(records), views.num_clips, views.num_crops, cfg.full_res)


RECIPE = MASNetRecipe()
