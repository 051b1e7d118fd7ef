"""The CMDA SlowFast recipe for the shared entry points (``common.engine.app``): the fork's data pipeline
(Kinetics-400 and Jester-V1 in PySlowFast's clip dialect), its solver (SGD with Nesterov, steps with relative lrs,
linear warm-up, precise BN) and its test protocol (10 x 3 views summed; softmax, or ReLU'd logits for GhostNet).

Data (spec section 4):

- ``--dataset kinetics``: PySlowFast csv or the fork's ``kinetics_p3d_{train,val}_byvideo_128.lst`` lists (both
  ``<path> <label>`` per line), paths relative to ``--data-root`` / ``--video-root``; random horizontal flip.
- ``--dataset jester``: lists ``<id> <label>``; videos ``<id>/<id>.mp4`` (the fork's re-encoding at 12 fps), or
  with ``--reader frames`` the original JPEG folders ``<id>/`` (``--frame-template {:05d}.jpg``, 12 fps: give
  ``--source-fps 12`` unless the folder has an fps.txt), so nothing needs re-encoding. Labels must be 0-based;
  ``--label-base 1`` reads the 1-based lists of Efficient-3DCNNs (Q11). No flip (left and right swipes are
  classes); clip-level colour jitter in training and validation (PIL brightness, contrast, colour, each U[0.4, 1.4]).
- Clips: ``--num-frames`` x ``--sampling-rate`` at ``--target-fps``, short side jittered in ``--jitter-scales``,
  random ``--crop-size`` crop; test: short side ``--scale-size`` (= the crop, Q14), ``--num-crops`` crops.

Quirk flags (off by default): ``--eval-relu`` (Q1: GhostNet's eval head is a ReLU on logits; its presets set it),
``--reference-bn-weight-decay`` (Q7: exempt from weight decay exactly the parameters whose *reference* name contains
"bn", so most efficient-net BNs are decayed, as the fork did; default: every BN parameter is exempt).
"""
from __future__ import annotations

import argparse
import os
import re
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance
from torch import nn

from common.data.annotations import AnnotationError, VideoRecord, read_slowfast_csv
from common.data.datasets import VideoClipDataset
from common.data.reprs import InitRepr
from common.data.samplers import SlowFastClipSampler
from common.data.transforms import (Compose, RandomCrop, RandomHorizontalFlip, ShortSideResize, ShortSideScaleJitter,
                                    TestCrop)
from common.engine.checkpoint import require_keys, unwrap_state_dict
from common.engine.param_groups import describe_param_groups
from common.engine.recipe import Log, Recipe, RecipeError, ViewSpec
from projects.efficient_slowfast.configs import PRESETS
from projects.efficient_slowfast.models import VARIANTS, TwoPathwayNet, build_model, convert_reference_state_dict

_FAMILY_FLAGS = {"width_mult": ("shufflenetv2", "shufflenet", "mobilenetv2", "ghostnet"), "groups": ("shufflenet",)}


class JesterColourJitter(InitRepr):
    """The fork's Jester jitter: one brightness, contrast and colour factor per clip, each ``U(low, high)``,
    applied with PIL ``ImageEnhance`` in that order to every frame (uint8 in, uint8 out)."""

    def __init__(self, low: float = 0.4, high: float = 1.4) -> None:
        self.low, self.high = low, high

    def __call__(self, sample: dict[str, Any], generator: torch.Generator) -> dict[str, Any]:
        factors = (self.low + (self.high - self.low) * torch.rand(3, generator=generator, dtype=torch.float64)).tolist()
        frames = []
        for frame in sample["clip"].permute(0, 2, 3, 1).numpy():  # [H, W, 3] uint8 each
            image = Image.fromarray(frame)
            for enhancer, factor in zip((ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color),
                                        factors):
                image = enhancer(image).enhance(factor)
            frames.append(np.asarray(image))
        return {**sample, "clip": torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()}  # [T,3,H,W]


def reference_bn_named(name: str, family: str) -> bool:
    """Whether the fork's name of our parameter ``name`` contains "bn" (its optimiser's weight-decay rule, Q7).
    Our names keep every "bn" of the fork's; only GhostNet's head BN (fork: ``head.stage5_conv_*.bn1``) lost it."""
    return "bn" in name or (family == "ghostnet" and re.match(r"head\.pathway\d\.1\.", name) is not None)


class EfficientSlowFastRecipe(Recipe):
    """Train or test the CMDA SlowFast models with the fork's recipe.

    python -m projects.efficient_slowfast.main --preset k400_sfv2_w2 --data-root /data/k400 \\
        --train-list kinetics_p3d_train_byvideo_128.lst --val-list kinetics_p3d_val_byvideo_128.lst \\
        --output-dir runs/sfv2
    python -m projects.efficient_slowfast.test --checkpoint runs/sfv2/checkpoints/best.pth --output-dir runs/sfv2_test
    """

    name = "efficient_slowfast"
    variants = VARIANTS
    presets = PRESETS
    # Without a preset: the Kinetics SFV2 configuration, at the width of whichever --variant is chosen.
    defaults: Mapping[str, Any] = {k: v for k, v in PRESETS["k400_sfv2_w2"].items() if k not in _FAMILY_FLAGS}
    classifier_prefixes = ("head.fc.",)
    warmup_rule = "linear"  # PySlowFast: from --warmup-start-lr to the schedule's lr at the warm-up's end
    per_step_lr = True  # PySlowFast sets the lr every iteration at the fractional epoch

    def add_args(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("CMDA SlowFast model")
        group.add_argument("--width-mult", type=float, default=None, help="efficient nets' width (variant's if unset)")
        group.add_argument("--groups", type=int, default=None, help="ShuffleNet groups (variant's if unset)")
        group.add_argument("--alpha", type=int, default=4, help="fast / slow frame ratio")
        group.add_argument("--beta-inv", type=int, default=8, help="slow / fast channel ratio")
        group.add_argument("--dropout", type=float, default=0.5, help="before the classifier (Jester configs: 0.2)")
        group.add_argument("--attn-backend", choices=("sdpa", "math"), default="sdpa",
                           help="CMDA attention: sdpa never holds the N x N matrix; math is the explicit softmax")
        group.add_argument("--eval-relu", action=argparse.BooleanOptionalAction, default=False,
                           help="Q1: eval outputs are ReLU'd logits (GhostNet's reference head), summed over views; "
                                "otherwise softmax probabilities are summed")
        group = parser.add_argument_group("CMDA SlowFast optimisation")
        group.add_argument("--momentum", type=float, default=0.9)
        group.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True)
        group.add_argument("--reference-bn-weight-decay", action=argparse.BooleanOptionalAction, default=False,
                           help="Q7: decay every parameter whose reference name lacks 'bn' (most efficient-net BNs)")
        group = parser.add_argument_group("CMDA SlowFast data")
        group.add_argument("--dataset", choices=("kinetics", "jester"), default="kinetics",
                           help="kinetics: '<path> <label>' lists; jester: '<id> <label>', videos <id>/<id>.mp4")
        group.add_argument("--video-root", default="", help="videos / frame folders, relative to --data-root")
        group.add_argument("--label-base", type=int, choices=(0, 1), default=0,
                           help="first label of the lists (1: Efficient-3DCNNs Jester lists)")
        group.add_argument("--path-label-separator", default=" ", help="PySlowFast DATA.PATH_LABEL_SEPARATOR")
        group.add_argument("--reader", choices=("video", "frames"), default="video", help="mp4 files or JPEG folders")
        group.add_argument("--frame-template", default="{:05d}.jpg", help="frame file names (--reader frames)")
        group.add_argument("--source-fps", type=float, default=None, help="fps of frame folders without fps.txt")
        group.add_argument("--target-fps", type=lambda v: None if v.lower() == "none" else float(v), default=30.0,
                           help="clip span = num_frames x sampling_rate frames at this fps ('none': source frames)")
        group.add_argument("--jitter-scales", type=int, nargs=2, default=[125, 160], metavar=("MIN", "MAX"),
                           help="training short-side jitter (TRAIN_JITTER_SCALES)")
        group.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                           help="random horizontal flip in training (off for Jester)")
        group.add_argument("--colour-jitter", action=argparse.BooleanOptionalAction, default=False,
                           help="Jester's clip-level PIL colour jitter in training and validation")

    def multigrid_capability(self, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
        """Any crop (global pooling everywhere); clips of T/4 and T/2 frames when those still split into pathways
        (multiples of ``--alpha``), as the reference's Kinetics configs train them."""
        return cfg.num_frames % (4 * cfg.alpha) == 0, True, (
            f"the long cycle's {cfg.num_frames // 4}-frame clips do not split into pathways with alpha={cfg.alpha}")

    @staticmethod
    def multigrid_bn_include(name: str, module: nn.Module) -> bool:
        """The BNs the reference builds with ``norm_module`` (sub-batch BN under multigrid): CMDA's and every BN of
        the ResNet models. The efficient nets' own BNs are hard-coded ``BatchNorm3d`` there and stay plain."""
        pattern = r"(_fuse\.(f2s|s2f)_bn|_fuse\.bn|(^|\.)(a|b|c|branch1)_bn|^s1\.pathway\d\.bn)$"
        return re.search(pattern, name) is not None

    def resolve(self, cfg: argparse.Namespace, mode: str, weights: Mapping[str, torch.Tensor] | None) -> None:
        family = self.variant(cfg).arch["family"]
        for flag, families in _FAMILY_FLAGS.items():
            if getattr(cfg, flag) is not None and family not in families:
                raise RecipeError(f"--{flag.replace('_', '-')} does not apply to {cfg.variant}")
        if mode == "test":
            require_keys(weights, ["head.fc.weight"], cfg.checkpoint,
                         "a checkpoint of projects.efficient_slowfast.main or of the reference (model_state)")
            cfg.num_classes = int(weights["head.fc.weight"].shape[0])
        elif cfg.num_classes is None:
            cfg.num_classes = self.variant(cfg).num_classes
        list_flag, list_file = ("--train-list", cfg.train_list) if mode == "train" else ("--val-list", cfg.val_list)
        if not list_file:
            raise RecipeError(f"{list_flag} is required")
        if cfg.num_frames % cfg.alpha:
            raise RecipeError(f"--num-frames {cfg.num_frames} must be a multiple of --alpha {cfg.alpha}")

    def build_model(self, cfg: argparse.Namespace, log: Log = print) -> TwoPathwayNet:
        overrides = {key: getattr(cfg, key) for key in _FAMILY_FLAGS if getattr(cfg, key) is not None}
        model = build_model(cfg.variant, cfg.num_classes, num_frames=cfg.num_frames, alpha=cfg.alpha,
                            beta_inv=cfg.beta_inv, dropout=cfg.dropout, attn_backend=cfg.attn_backend, **overrides)
        if cfg.eval_relu:  # the reference's GhostNet eval head: logits through ReLU whenever the model is in eval
            model.register_forward_hook(lambda module, inputs, out: out if module.training else F.relu(out))
        return model

    def weights(self, checkpoint: Any, cfg: argparse.Namespace) -> dict[str, torch.Tensor]:
        """Ours, or the reference's ``.pyth`` (``model_state``, converted, sub-BN statistics included)."""
        if isinstance(checkpoint, dict) and "model_state" in checkpoint:
            return convert_reference_state_dict(checkpoint, cfg.variant)
        return unwrap_state_dict(checkpoint)

    # ------------------------------------------------------------------------------------------------ data
    def records(self, cfg: argparse.Namespace, list_file: str, flag: str) -> list[VideoRecord]:
        path = list_file if os.path.isabs(list_file) else os.path.join(cfg.data_root, list_file)
        video_root = os.path.join(cfg.data_root, cfg.video_root)
        if cfg.dataset == "kinetics":
            records = read_slowfast_csv(path, data_root=video_root, separator=cfg.path_label_separator)
        else:
            records = []
            with open(path, encoding="utf-8-sig") as lines:
                for number, line in enumerate(lines, 1):
                    fields = line.split()
                    if not fields:
                        continue
                    if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                        raise AnnotationError(path, number, f"expected '<video id> <label>', got {line.strip()!r}")
                    video = fields[0] if cfg.reader == "frames" else os.path.join(fields[0], fields[0] + ".mp4")
                    records.append(VideoRecord(os.path.join(video_root, video), int(fields[1]),
                                               source=f"{path}:{number}"))
        shifted = [VideoRecord(r.path, r.label - cfg.label_base, source=r.source) for r in records]
        bad = [r for r in shifted if not 0 <= r.label < cfg.num_classes]
        if bad:
            hint = (" (the list looks 1-based: add --label-base 1)" if cfg.label_base == 0
                    and min(r.label for r in shifted) >= 1 and max(r.label for r in shifted) == cfg.num_classes else "")
            raise RecipeError(f"{flag} {path}: {bad[0].source} has label {bad[0].label + cfg.label_base}, outside "
                              f"[{cfg.label_base}, {cfg.num_classes + cfg.label_base}){hint}")
        return shifted

    def dataset(self, cfg: argparse.Namespace, split: str, views: ViewSpec | None = None) -> VideoClipDataset:
        sampler_args = dict(target_fps=cfg.target_fps, source_fps=cfg.source_fps, timestamp_trim=cfg.timestamp_trim)
        reader_args = dict(reader=cfg.reader, frame_template=cfg.frame_template, seed=cfg.seed)
        if split == "test":
            return self.view_dataset(cfg, self.records(cfg, cfg.val_list, "--val-list"), views)
        # Training and validation (the reference validates on one random training-style view per video).
        transforms = [JesterColourJitter()] if cfg.colour_jitter else []
        transforms += [ShortSideScaleJitter(*cfg.jitter_scales), RandomCrop(cfg.crop_size)]
        if cfg.flip:
            transforms.append(RandomHorizontalFlip())
        list_file, flag = (cfg.train_list, "--train-list") if split == "train" else (cfg.val_list, "--val-list")
        sampler = SlowFastClipSampler(cfg.num_frames, cfg.sampling_rate, num_test_clips=1, **sampler_args)
        return VideoClipDataset(self.records(cfg, list_file, flag), sampler, Compose(transforms), mode="train",
                                **reader_args)

    def view_dataset(self, cfg: argparse.Namespace, records: Sequence[VideoRecord], views: ViewSpec
                     ) -> VideoClipDataset:
        """Every ``views.num_clips x views.num_crops`` view of ``records`` (test.py, and the explain tools)."""
        sampler = SlowFastClipSampler(cfg.num_frames, cfg.sampling_rate, num_test_clips=views.num_clips,
                                      target_fps=cfg.target_fps, source_fps=cfg.source_fps,
                                      timestamp_trim=cfg.timestamp_trim)
        return VideoClipDataset(
            list(records), sampler, mode="test", num_crops=views.num_crops,
            test_transform_for_crop=lambda crop: Compose([ShortSideResize(cfg.scale_size),
                                                          TestCrop(cfg.crop_size, views.num_crops, crop)]),
            reader=cfg.reader, frame_template=cfg.frame_template, seed=cfg.seed)

    # ------------------------------------------------------------------------------------------------ optimisation
    def optimizer(self, cfg: argparse.Namespace, model: nn.Module, log: Log = print) -> torch.optim.Optimizer:
        """PySlowFast's two groups: BN parameters without weight decay (``BN.WEIGHT_DECAY`` 0), the rest with it.
        ``--reference-bn-weight-decay`` picks the first group by the fork's names instead (Q7)."""
        bn_params = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                     for p in m.parameters(recurse=False)}
        family = self.variant(cfg).arch["family"]
        exempt, decayed = [], []
        for name, param in model.named_parameters():
            no_decay = (reference_bn_named(name, family) if cfg.reference_bn_weight_decay else id(param) in bn_params)
            (exempt if no_decay else decayed).append(param)
        groups = [dict(params=decayed, weight_decay=cfg.weight_decay, name="decay"),
                  dict(params=exempt, weight_decay=0.0, name="bn (no decay)")]
        log(describe_param_groups(groups))
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)

    def test_protocol(self, cfg: argparse.Namespace) -> ViewSpec:
        """``--num-clips`` x ``--num-crops`` views (10 x 3 in every config), summed: softmax probabilities, or with
        ``--eval-relu`` the ReLU'd logits the model then returns."""
        return ViewSpec(cfg.num_clips, cfg.num_crops, aggregate="sum", score="logits" if cfg.eval_relu else "softmax",
                        classes=cfg.num_classes, summary={"crop_size": float(cfg.crop_size)})


RECIPE = EfficientSlowFastRecipe()
