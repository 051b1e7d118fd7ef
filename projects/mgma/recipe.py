"""MGMA's recipe for the shared entry points (``common.engine.app``): the released UCF101 configuration and the
paper's other settings as presets, PySlowFast's clip dialect, SGD with Nesterov momentum and no weight decay on BN,
a linear warm-up into relative-lr steps, precise BN before each evaluation, and the reference's test protocol
(3 clips x 1 centre crop at 128, softmax per head position averaged, summed over a video's clips).

The reference's config keys map to flags: ``MGMA.TYPE`` = ``--mgma-type``, ``MGMA.NUM_GROUPS`` = ``--num-groups``,
``MGMA.INTERVAL`` / ``USE_FIRST_UNIT`` / ``USE_SHUFFLE`` = ``--interval`` / ``--use-first-unit`` /
``--use-shuffle``, ``MODEL.SE_RATIO`` / ``DROPOUT_RATE`` = ``--se-ratio`` / ``--dropout``, ``BN.NUM_BATCHES_PRECISE``
= ``--precise-bn-batches``, ``TEST.NUM_ENSEMBLE_VIEWS`` / ``NUM_SPATIAL_CROPS`` = ``--num-clips`` / ``--num-crops``.
"""
from __future__ import annotations

import argparse
from typing import Any, Mapping

import torch
from torch import nn

from common.engine.checkpoint import unwrap_state_dict
from common.engine.param_groups import describe_param_groups, norm_no_decay_param_groups
from common.engine.recipe import Log, Recipe, RecipeError, ViewSpec
from projects.mgma.configs import PRESETS, UCF101
from projects.mgma.data import add_data_args, test_dataset, train_dataset
from projects.mgma.model import MGMA_TYPES, VARIANTS, attention_maps, build_model, convert_reference_state_dict

# Flags that build_model takes as overrides (None: the variant's value).
MODEL_FLAGS = ("mgma_type", "num_groups", "interval", "use_first_unit", "use_shuffle", "se_ratio", "dropout")
_MGMA_FLAGS = ("mgma_type", "num_groups", "interval", "use_first_unit", "use_shuffle")


def is_reference_state(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether a state dict is in the reference's names (``projection``, ``block.`` units, ``first_conv``)."""
    return "projection.weight" in state


class MGMARecipe(Recipe):
    """Train or test MGMA (on R3D, R(2+1)D or ShuffleNetV2-3D) or its baselines with the released recipe.

    python -m projects.mgma.main --preset ucf101_r3d34_tsa_g8 --data-root data/ucf101 --output-dir runs/r3d34_tsa
    python -m projects.mgma.test --checkpoint runs/r3d34_tsa/checkpoints/last.pth --data-root data/ucf101 \\
        --val-list test.csv --output-dir runs/r3d34_tsa/test

    Lists: PySlowFast csv with 0-based labels (python -m common.tools.build_lists ucf101 ...). test.py scores every
    video with --num-clips x --num-crops views at --test-crop-size (3 x 1 at 128 by default): each view's score is
    the softmax per head position averaged over positions (fully convolutional), a video's score their sum.
    --checkpoint takes a checkpoint of main.py or the reference's (model_state, converted; give its --variant and
    --mgma-type / --num-groups).
    """

    name = "mgma"
    variants = VARIANTS
    presets = PRESETS
    defaults: Mapping[str, Any] = {**UCF101, "variant": "mgma_r3d34"}
    classifier_prefixes = ("fc.",)
    warmup_rule = "linear"  # PySlowFast: from warmup_start_lr to the policy's lr at the end of the warm-up
    per_step_lr = True

    def add_args(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("MGMA")
        group.add_argument("--mgma-type", choices=MGMA_TYPES, default=None, help="attention type (MGMA.TYPE); "
                           "None: the variant's (TSA); the baselines are the variants without the mgma_ prefix")
        group.add_argument("--num-groups", type=int, default=None, help="MGMA.NUM_GROUPS (None: 8)")
        group.add_argument("--interval", type=int, default=None, help="MGMA.INTERVAL (None: 1)")
        group.add_argument("--use-first-unit", action=argparse.BooleanOptionalAction, default=None,
                           help="MGMA.USE_FIRST_UNIT (None: off; on needs --interval > 1, where it changes nothing)")
        group.add_argument("--use-shuffle", action=argparse.BooleanOptionalAction, default=None,
                           help="MGMA.USE_SHUFFLE (None: on)")
        group.add_argument("--se-ratio", type=float, default=None,
                           help="MODEL.SE_RATIO: SE in every non-MGMA ResNet unit (None: 1.0, the reference's; "
                                "0: none)")
        group.add_argument("--dropout", type=float, default=None, help="MODEL.DROPOUT_RATE before the classifier")
        group.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
        group.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True, help="Nesterov SGD")
        group.add_argument("--bn-weight-decay", type=float, default=0.0, help="weight decay of BN (BN.WEIGHT_DECAY)")
        group.add_argument("--position-pooling", choices=("softmax", "logits"), default="softmax",
                           help="how a view larger than the training crop combines its head positions: softmax "
                                "averaged (the reference's eval rule) or logits averaged")
        add_data_args(parser)

    def multigrid_capability(self, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
        """Refused: the head's average pool is sized for the built clip, so multigrid's smaller clips do not fit
        (and the attention pools by 8 frames and 16 pixels)."""
        return False, False, ("the head's average pool is sized for --num-frames x --crop-size, which multigrid's "
                              "smaller clips do not fill, and the attention needs T % 8 == 0 and crops % 16 == 0")

    def resolve(self, cfg: argparse.Namespace, mode: str, weights: Mapping[str, torch.Tensor] | None) -> None:
        variant = self.variant(cfg)
        baseline = variant.arch.get("mgma_type", "TSA") is None
        given = [flag for flag in _MGMA_FLAGS if getattr(cfg, flag) is not None]
        if baseline and given:
            raise RecipeError(f"{cfg.variant} is a baseline without MGMA; --{given[0].replace('_', '-')} applies to "
                              f"the mgma_* variants")
        if mode == "test":
            if weights is None or "fc.weight" not in weights:
                raise RecipeError(f"{cfg.checkpoint}: no classifier weight fc.weight: not a checkpoint of "
                                  "projects.mgma.main or of the MGMA reference")
            cfg.num_classes = int(weights["fc.weight"].shape[0])
        elif cfg.num_classes is None:
            cfg.num_classes = variant.num_classes
        if not baseline:
            sizes = {"--num-frames": (cfg.num_frames, 8), "--crop-size": (cfg.crop_size, 16),
                     "--test-crop-size": (cfg.test_crop_size, 16)}
            for flag, (value, multiple) in sizes.items():
                if value % multiple:
                    raise RecipeError(f"{flag} {value}: MGMA needs a multiple of {multiple} (its attention pools by "
                                      f"2 and upsamples back at 1/4 and 1/8 of the input size)")

    def model_overrides(self, cfg: argparse.Namespace) -> dict[str, Any]:
        return {flag: getattr(cfg, flag) for flag in MODEL_FLAGS if getattr(cfg, flag) is not None}

    def build_model(self, cfg: argparse.Namespace, log: Log = print) -> nn.Module:
        if cfg.pretrained:
            raise RecipeError("MGMA trains from scratch (the reference loads no ImageNet weights); use --finetune "
                              "to start from a checkpoint")
        model = build_model(cfg.variant, cfg.num_classes, num_frames=cfg.num_frames, **self.model_overrides(cfg))
        model.position_pooling = cfg.position_pooling
        return model

    def weights(self, checkpoint: Any, cfg: argparse.Namespace) -> dict[str, torch.Tensor]:
        """Ours, or the reference's ``model_state`` converted for ``--variant`` and the MGMA flags."""
        state = unwrap_state_dict(checkpoint)
        if is_reference_state(state):
            overrides = {k: v for k, v in self.model_overrides(cfg).items() if k != "dropout"}
            state = convert_reference_state_dict(state, cfg.variant, **overrides)
        return state

    def dataset(self, cfg: argparse.Namespace, split: str, views: ViewSpec | None = None) -> Any:
        if split == "train":
            return train_dataset(cfg, cfg.train_list)
        if split == "val" and cfg.reference_val_augmentation:
            return train_dataset(cfg, cfg.val_list, "--val-list")
        if split == "val":
            return test_dataset(cfg, cfg.val_list, 1, 1)
        return test_dataset(cfg, cfg.val_list, views.num_clips, views.num_crops)

    def optimizer(self, cfg: argparse.Namespace, model: nn.Module, log: Log = print) -> torch.optim.Optimizer:
        groups = norm_no_decay_param_groups(model, cfg.weight_decay, cfg.bn_weight_decay)
        log(describe_param_groups(groups))
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, dampening=0.0, nesterov=cfg.nesterov)

    def test_protocol(self, cfg: argparse.Namespace) -> ViewSpec:
        return ViewSpec(cfg.num_clips, cfg.num_crops, aggregate="sum", score="softmax", classes=cfg.num_classes,
                        summary={"test_crop_size": float(cfg.test_crop_size), "num_frames": float(cfg.num_frames)})

    # ------------------------------------------------------------------------------------------------ explain
    explain_layers = ("layer4",)
    explain_methods = ("gradcam", "attention")

    def view_dataset(self, cfg: argparse.Namespace, records: Any, views: ViewSpec) -> Any:
        return test_dataset(cfg, None, views.num_clips, views.num_crops, records=list(records))

    def attention_maps(self, cfg: argparse.Namespace, model: nn.Module, inputs: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
        """Every MGMA unit's branch maps and combined ``A``, averaged over channels: ``{"layer2.1/temporal": [T', h,
        w], ...}`` (none for a baseline variant)."""
        return {f"{unit}/{kind}": value[0].float().mean(0)
                for unit, kinds in attention_maps(model, inputs).items() for kind, value in kinds.items()}


RECIPE = MGMARecipe()
