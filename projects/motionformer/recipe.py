"""Motionformer's recipe for the shared entry points (``common.engine.app``): the reference configs as presets, its
Kinetics / SSv2 / EPIC-100 data dialects, AdamW, label smoothing, optional mixup / cutmix, and its multi-view test
(softmax scores summed over a video's views).

The reference's ``--imagenet-weights`` spelling is an alias of the shared ``--pretrained``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from common.data.annotations import read_class_names
from common.data.device_transforms import MixupCutmix, soft_target_cross_entropy
from common.engine.batch import ClipPreprocessor, Preprocess
from common.engine.checkpoint import unwrap_state_dict
from common.engine.metrics import topk_correct
from common.engine.multigrid import multigrid_clip_sizes
from common.engine.recipe import AccuracyFn, Log, LossFn, Recipe, RecipeError, ViewSpec
from projects.motionformer.configs import PRESETS
from projects.motionformer.data import add_data_args, test_dataset, train_dataset
from projects.motionformer.model import (ATTN_BACKENDS, EPIC_NOUN_CLASSES, VARIANTS, Motionformer, build_model,
                                         convert_reference_state_dict, is_two_head, load_imagenet_vit)


def read_weights(checkpoint: Any, variant: str, pos_embed_type: str = "separate") -> dict[str, torch.Tensor]:
    """Model weights of a loaded checkpoint of ours or a reference ``.pyth`` (converted)."""
    state = unwrap_state_dict(checkpoint)
    if "patch_embed_3d.proj.weight" in state:
        state = convert_reference_state_dict(state, variant)
    if "st_embed" in state and pos_embed_type != "joint":
        raise RecipeError("the checkpoint has a joint space-time position table (st_embed): add "
                          "--pos-embed-type joint")
    return state


def is_epic(cfg: argparse.Namespace) -> bool:
    """EPIC-KITCHENS variants have a verb and a noun head."""
    return is_two_head(cfg.variant)


def epic_accuracy(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Verb / noun top-1 and top-5 counts, and action top-1 (verb and noun both right)."""
    counts = {}
    for head in ("verb", "noun"):
        counts.update({f"{head}_{k}": v for k, v in topk_correct(logits[head], labels[head]).items()})
    verb_hit = logits["verb"].argmax(1).eq(labels["verb"])
    counts["action_top1"] = (verb_hit & logits["noun"].argmax(1).eq(labels["noun"])).sum()
    return counts


def mixing(cfg: argparse.Namespace) -> bool:
    return cfg.mixup_alpha > 0 or cfg.cutmix_alpha > 0


class MotionformerRecipe(Recipe):
    """Train or test a Motionformer (joint / divided / trajectory attention) with the reference recipe.

    python -m projects.motionformer.main --preset k400_motionformer_224_16x4 --data-root data/k400 \\
        --pretrained jx_vit_base_p16_224-80ecf9dd.pth --output-dir runs/k400_mf --auto-scale-lr --batch-size 32
    python -m projects.motionformer.test --preset k400_motionformer_224_16x4 --data-root data/k400 \\
        --checkpoint k400_motionformer_224_16x4.pyth --output-dir runs/k400_mf_test

    --checkpoint takes a checkpoint of main.py or a released reference .pyth; a video's score is the sum of its
    views' softmax probabilities (10 clips x 3 crops on Kinetics and EPIC, 1 x 3 on SSv2).
    """

    name = "motionformer"
    variants = VARIANTS
    presets = PRESETS
    defaults: Mapping[str, Any] = dict(
        variant="motionformer_224_16x4", num_classes=400, num_frames=16, sampling_rate=4, crop_size=224, lr=1e-4,
        weight_decay=0.05, lr_policy="step", lr_steps=[20, 30], lr_factors=[0.1, 0.01], train_list="train.csv",
        val_list="val.csv", num_clips=10, num_crops=3, test_batch_size=64,
    )
    flag_aliases = {"--pretrained": ("--imagenet-weights",)}
    classifier_prefixes = ("head.", "head_verb.", "head_noun.")

    def add_args(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("Motionformer")
        group.add_argument("--original-traj-attn", action=argparse.BooleanOptionalAction, default=True,
                           help="reference stage-2 values (needed by the released weights); --no-original-traj-attn "
                                "selects the paper's corrected formulation")
        group.add_argument("--attn-backend", choices=ATTN_BACKENDS, default="sdpa",
                           help="sdpa (fused kernels on GPU), math (explicit) or triton (fused trajectory kernel)")
        group.add_argument("--approx", choices=("none", "orthoformer"), default="none",
                           help="approximate stage 1 of trajectory attention")
        group.add_argument("--num-landmarks", type=int, default=128, help="Orthoformer landmarks")
        group.add_argument("--stage2-recompute", action="store_true",
                           help="recompute trajectory stage 2 in backward instead of keeping its activations "
                                "(less memory, one more stage-2 forward per step; same results)")
        group.add_argument("--stage2-key-fold", action="store_true",
                           help="fold the stage-2 key projection into the queries (fewer FLOPs, same function; "
                                "changes the FLOP count and the rounding)")
        group.add_argument("--pos-embed-type", choices=("separate", "joint"), default="separate",
                           help="separate spatial + temporal tables (every config) or one space-time table")
        group.add_argument("--bgr", action=argparse.BooleanOptionalAction, default=False,
                           help="feed BGR clips (the released EPIC models expect them)")
        group.add_argument("--category-file", default=None,
                           help="class names in label order (one per line, or a json {name: id}), relative to "
                                "--data-root: names the classes in test.py's report and confusion matrix")
        group.add_argument("--label-smoothing", type=float, default=0.2, help="label smoothing of the loss")
        group.add_argument("--drop-path", type=float, default=0.2, help="stochastic depth of the last block")
        group.add_argument("--mixup-alpha", type=float, default=0.0, help="off in every reference config")
        group.add_argument("--cutmix-alpha", type=float, default=0.0, help="off in every reference config")
        add_data_args(parser)

    def multigrid_capability(self, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
        """The position tables are interpolated to any clip, but every frame count must divide by the tubelet and
        every crop by the patch; multigrid's crops (0.5 / 0.707 of ``--crop-size``, e.g. 158 of 224) do not."""
        arch = self.variant(cfg).arch
        patch, tubelet = arch.get("patch_size", 16), arch.get("tubelet_size", 2)
        frames, crops = multigrid_clip_sizes(cfg.num_frames, cfg.crop_size, cfg.multigrid_long, cfg.multigrid_short)
        bad_frames = [t for t in frames if t % tubelet]
        bad_crops = [s for s in crops if s % patch]
        reason = "; ".join(part for part in (
            f"frame counts {bad_frames} do not divide by the {tubelet}-frame tubelet" if bad_frames else "",
            f"crops {bad_crops} do not divide by the {patch}-pixel patch" if bad_crops else "") if part)
        return not bad_frames, not bad_crops, reason

    def resolve(self, cfg: argparse.Namespace, mode: str, weights: Mapping[str, torch.Tensor] | None) -> None:
        epic = is_epic(cfg)
        if (cfg.dataset == "epic") != epic:
            raise RecipeError(f"--dataset {cfg.dataset} needs {'an ek_* ' if cfg.dataset == 'epic' else 'a non-EPIC '}"
                              f"variant, got {cfg.variant}")
        if mixing(cfg) and epic:
            raise RecipeError("mixup/cutmix is not defined for the two-head EPIC models")
        if epic and cfg.best_metric == "top1":
            cfg.best_metric = "action_top1"  # EPIC's headline metric (validation has no plain top1)
        if mode == "test" and cfg.dataset == "ssv2" and cfg.num_clips != 1:
            raise RecipeError("SSv2 has one temporal view (segment midpoints); use --num-clips 1")
        if mode == "test" and cfg.num_crops not in (1, 3):
            raise RecipeError("Motionformer tests 1 or 3 crops (left / centre / right)")

    def build_model(self, cfg: argparse.Namespace, log: Log = print) -> Motionformer:
        """The model the flags describe (EPIC: ``--num-classes`` verbs plus 300 nouns)."""
        model = build_model(cfg.variant, cfg.num_classes, num_frames=cfg.num_frames, img_size=cfg.crop_size,
                            original_traj_attn=cfg.original_traj_attn, attn_backend=cfg.attn_backend,
                            approx=cfg.approx, num_landmarks=cfg.num_landmarks, drop_path_rate=cfg.drop_path,
                            pos_embed_type=cfg.pos_embed_type, stage2_recompute=cfg.stage2_recompute,
                            stage2_key_fold=cfg.stage2_key_fold)
        if cfg.pretrained:
            left = load_imagenet_vit(model, cfg.pretrained)
            log(f"ImageNet ViT init from {Path(cfg.pretrained).name}; not in that file (kept at their initial "
                f"values): {', '.join(left)}")
        return model

    def weights(self, checkpoint: Any, cfg: argparse.Namespace) -> dict[str, torch.Tensor]:
        return read_weights(checkpoint, cfg.variant, cfg.pos_embed_type)

    def dataset(self, cfg: argparse.Namespace, split: str, views: ViewSpec | None = None) -> Any:
        if split == "train":
            return train_dataset(cfg, cfg.train_list)
        if split == "val":  # one deterministic centre view (the reference validates on random train-style crops)
            return test_dataset(cfg, cfg.val_list, 1, 1)
        return test_dataset(cfg, cfg.val_list, views.num_clips, views.num_crops)

    def preprocess(self, cfg: argparse.Namespace) -> Preprocess:
        mixup = (MixupCutmix(cfg.mixup_alpha, cfg.cutmix_alpha, cfg.label_smoothing, cfg.num_classes)
                 if mixing(cfg) else None)
        variant = self.variant(cfg)
        return ClipPreprocessor(variant.mean, variant.std, bgr=cfg.bgr, mixup=mixup)

    def optimizer(self, cfg: argparse.Namespace, model: nn.Module, log: Log = print) -> torch.optim.Optimizer:
        # Reference: AdamW with decay on every parameter (its no_weight_decay list is never used).
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=cfg.weight_decay)

    def loss(self, cfg: argparse.Namespace) -> LossFn:
        """Label-smoothed cross-entropy (timm's LabelSmoothingCrossEntropy equals PyTorch's ``label_smoothing``);
        soft-target cross-entropy after mixup/cutmix; EPIC: the mean of the verb and noun losses."""
        mixed = mixing(cfg)

        def loss_fn(logits: Any, targets: Any) -> torch.Tensor:
            if isinstance(logits, dict):
                return 0.5 * sum(F.cross_entropy(logits[h], targets[h], label_smoothing=cfg.label_smoothing)
                                 for h in ("verb", "noun"))
            if mixed:
                return soft_target_cross_entropy(logits, targets)
            return F.cross_entropy(logits, targets, label_smoothing=cfg.label_smoothing)

        return loss_fn

    def accuracy(self, cfg: argparse.Namespace) -> AccuracyFn:
        return epic_accuracy if is_epic(cfg) else topk_correct

    def test_protocol(self, cfg: argparse.Namespace) -> ViewSpec:
        # The reference sums the softmax probabilities of a video's views (its model returns them in eval mode).
        classes = {"verb": cfg.num_classes, "noun": EPIC_NOUN_CLASSES} if is_epic(cfg) else cfg.num_classes
        names = None
        if cfg.category_file and not is_epic(cfg):
            names = read_class_names(Path(cfg.data_root) / cfg.category_file)
            if len(names) != cfg.num_classes:
                raise RecipeError(f"--category-file {cfg.category_file} names {len(names)} classes, the model has "
                                  f"{cfg.num_classes}")
        return ViewSpec(cfg.num_clips, cfg.num_crops, aggregate="sum", score="softmax", classes=classes,
                        class_names=names)


    # ------------------------------------------------------------------------------------------------ explain
    explain_methods = ("attention",)

    def view_dataset(self, cfg: argparse.Namespace, records: Any, views: ViewSpec) -> Any:
        return test_dataset(cfg, None, views.num_clips, views.num_crops, records=list(records))

    def attention_maps(self, cfg: argparse.Namespace, model: nn.Module, inputs: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
        """Trajectory attention of block ``cfg.block`` (default the last) for the query patch ``cfg.query`` =
        (token frame, row, col), default the centre of the middle token frame: ``trajectory`` (stage 1, mean over
        heads: where the query's trajectory is in each token frame, ``[F, gh, gw]``), with ``cfg.per_head`` also
        ``trajectory/head{h}`` per head, and ``frame_weights`` (stage 2, mean over heads, ``[F, 1, 1]``)."""
        if model.attention != "trajectory":
            return {}
        block = getattr(cfg, "block", -1)
        if not -model.depth <= block < model.depth:
            raise RecipeError(f"--block {block}: the model has {model.depth} blocks")
        maps = model.attention_maps(inputs, block)
        frames, rows, cols = maps["grid"].tolist()
        frame, row, col = getattr(cfg, "query", None) or (frames // 2, rows // 2, cols // 2)
        if not (0 <= frame < frames and 0 <= row < rows and 0 <= col < cols):
            raise RecipeError(f"--query {frame} {row} {col} is outside the token grid ({frames}, {rows}, {cols})")
        token = (frame * rows + row) * cols + col
        heads = maps["spatial"][0, :, token].reshape(-1, frames, rows, cols)  # [h, F, gh, gw]
        temporal = maps["temporal"][0, :, token].mean(0)  # [F]
        per_head = {f"trajectory/head{h}": head for h, head in enumerate(heads)} if getattr(cfg, "per_head", False) \
            else {}
        return {"trajectory": heads.mean(0), **per_head, "frame_weights": temporal[:, None, None]}


RECIPE = MotionformerRecipe()
