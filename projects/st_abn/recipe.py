"""ST-ABN's recipe for the shared entry points (``common.engine.app``): the MMAction v1 data dialect of the reference
(``RawFramesDataset`` sampling, its crop and TPN colour jitter, each quirk behind a flag), SGD with Nesterov on all
parameters, the step schedule, the two-branch loss, and its test protocol plus multi-view testing.

Reference spellings are aliases of the shared flags: ``--work_dir`` = ``--output-dir``, ``--resume_from`` =
``--resume``, ``--load_from`` = ``--finetune``, ``--gpus`` is not needed (``torchrun``), ``--validate`` is the default
whenever ``--val-list`` is given.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from common.data.annotations import read_class_names, read_rawframe_list
from common.data.datasets import VideoClipDataset
from common.data.transforms import Compose, RandomHorizontalFlip, TestCrop
from common.engine.checkpoint import require_keys, unwrap_state_dict
from common.engine.metrics import topk_correct
from common.engine.recipe import AccuracyFn, Log, LossFn, Recipe, RecipeError, ViewSpec
from projects.st_abn.model import VARIANTS, STABN, build_model, convert_reference_state_dict, stabn_loss
from projects.st_abn.transforms import (MMActionV1RandomResizedCrop, MMActionV1Rescale, STABNPreprocess,
                                        STABNSegmentSampler, TPNColorJitter)

# Every value of the reference's four configs (spec section 2); they differ only in sampling and frame names.
_REFERENCE = dict(
    variant="st_abn_r50", num_classes=174, num_frames=32, crop_size=224, scale_size=256,
    batch_size=64,  # 8 clips per GPU x 8 GPUs
    epochs=150, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4, grad_clip=20.0,
    lr_policy="step", lr_steps=[75, 125], lr_factors=[0.1, 0.01], warmup_epochs=0.0,
    dropout=0.5, attention_dropout=0.5, attention_loss_weight=1.0, checkpointing=True,
    flip=True, color_jitter=True, workers=8, num_clips=1, num_crops=1,
    train_list="train_videofolder.txt", val_list="val_videofolder.txt",
)
_SEGMENTS = dict(sampling="segments", sampling_rate=1)  # _32: one frame from each of 32 TSN segments
_WINDOW = dict(sampling="window", sampling_rate=2)  # _32_2: 32 frames at stride 2 from one 64-frame window
_V1 = dict(frame_template="{:05d}.jpg", log_every=100)  # the 20BN JPEGs
_V2 = dict(frame_template="{:06d}.jpg", log_every=200)  # TSM's ffmpeg extraction

PRESETS: dict[str, dict[str, Any]] = {
    "sthv1_st_abn_32": {**_REFERENCE, **_SEGMENTS, **_V1},
    "sthv1_st_abn_32_2": {**_REFERENCE, **_WINDOW, **_V1},
    "sthv2_st_abn_32": {**_REFERENCE, **_SEGMENTS, **_V2},
    "sthv2_st_abn_32_2": {**_REFERENCE, **_WINDOW, **_V2},
    # The baseline (no reference config exists: the same values without the attention branch).
    "sthv1_slowonly_32": {**_REFERENCE, **_SEGMENTS, **_V1, "variant": "slowonly_r50"},
    "sthv1_slowonly_32_2": {**_REFERENCE, **_WINDOW, **_V1, "variant": "slowonly_r50"},
    "sthv2_slowonly_32": {**_REFERENCE, **_SEGMENTS, **_V2, "variant": "slowonly_r50"},
    "sthv2_slowonly_32_2": {**_REFERENCE, **_WINDOW, **_V2, "variant": "slowonly_r50"},
    # Not from the paper: the small model on the generated motion clips of common.data.synthetic (left/right
    # classes, so no flip); 20 epochs at lr 0.02 learn them on a CPU in under a minute (README; 12 epochs at lr 0.01
    # left the CI direction set at 79%).
    "tiny_synthetic": dict(
        variant="st_abn_tiny", num_classes=None, num_frames=8, crop_size=56, scale_size=64, batch_size=8,
        epochs=20, lr=0.02, momentum=0.9, nesterov=True, weight_decay=5e-4, grad_clip=20.0, lr_policy="step",
        lr_steps=[16], lr_factors=[0.1], dropout=0.5, attention_dropout=0.5, attention_loss_weight=1.0,
        checkpointing=False, flip=False, color_jitter=True, sampling="segments", sampling_rate=1,
        frame_template="img_{:05d}.jpg", train_list="annotations/rawframes/train.txt",
        val_list="annotations/rawframes/val.txt", workers=2, log_every=5, num_clips=1, num_crops=1,
        count_flops=False),
}

# Layers whose shape depends on the class count: re-initialised when fine-tuning to another K.
_CLASS_DEPENDENT = ("fc.", "attention.class_conv.", "attention.class_bn.", "attention.spatial_conv.",
                    "attention.temporal_conv.", "attention.logit_conv.", "attention.fc.")


class STABNRecipe(Recipe):
    """Train or test ST-ABN (or its slow-only baseline) with the reference recipe.

    python -m projects.st_abn.main --preset sthv1_st_abn_32 --data-root /data/sthv1/frames \\
        --train-list /data/sthv1/train_videofolder.txt --val-list /data/sthv1/val_videofolder.txt \\
        --pretrained resnet50-19c8e357.pth --output-dir runs/sthv1_st_abn_32
    python -m projects.st_abn.test --checkpoint runs/sthv1_st_abn_32/checkpoints/best.pth \\
        --output-dir runs/sthv1_st_abn_32/test_1x1                  # the reference protocol: 1 clip x 1 crop
    python -m projects.st_abn.test --checkpoint ... --num-clips 2 --num-crops 3 --output-dir .../test_2x3

    Test views: --num-clips 1 is the reference's validation-mode view (segment centres, or the centred window);
    N > 1 spreads N clips over the video. --num-crops 1 (centre), 3 or 10 (the reference's unused ten_crop:
    corners, centre and their flips) of --crop-size after the short side is scaled to --scale-size. A video's score
    is the mean of its views' logits (the reference averages pooled features before its linear classifier: equal).
    """

    name = "st_abn"
    variants = VARIANTS
    presets = PRESETS
    defaults: Mapping[str, Any] = {key: value for key, value in PRESETS["sthv1_st_abn_32"].items()
                                   if key not in ("train_list", "val_list", "num_classes")}
    flag_aliases = {"--output-dir": ("--work_dir", "--work-dir"), "--resume": ("--resume_from",),
                    "--finetune": ("--load_from",), "--crop-size": ("--input_size",), "--scale-size": ("--img_scale",)}
    classifier_prefixes = _CLASS_DEPENDENT
    per_step_lr = False  # mmcv's step LR hook sets the lr at the start of every epoch

    def add_args(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("ST-ABN")
        group.add_argument("--sampling", choices=("segments", "window"), default="segments",
                           help="segments: one frame from each of --num-frames TSN segments (_32); window: "
                                "--num-frames frames --sampling-rate apart from one window (_32_2)")
        group.add_argument("--frame-template", default="{:05d}.jpg",
                           help="frame file names in each folder (SSv1 '{:05d}.jpg', SSv2 '{:06d}.jpg')")
        group.add_argument("--category-file", default=None, help="class names, one per line (confusion labels)")
        group.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
        group.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True, help="Nesterov SGD")
        group.add_argument("--dropout", type=float, default=0.5, help="before the perception classifier")
        group.add_argument("--attention-dropout", type=float, default=0.5, help="before the attention classifier")
        group.add_argument("--attention-loss-weight", type=float, default=1.0,
                           help="w in CE(perception) + w CE(attention); the reference's config states 0.5 but its "
                                "code never applies it (1.0)")
        group.add_argument("--attention-classifier", action=argparse.BooleanOptionalAction, default=True,
                           help="build the attention branch's classifier (test.py: set from the checkpoint)")
        group.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=True,
                           help="activation checkpointing of every bottleneck (the reference's with_cp; memory)")
        group.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                           help="horizontal flip with p = 0.5 in training (the reference flips Something-"
                                "Something although it has left/right classes)")
        group.add_argument("--color-jitter", action=argparse.BooleanOptionalAction, default=True,
                           help="TPN colour jitter and PCA lighting in training")
        group.add_argument("--reference-short-video", action=argparse.BooleanOptionalAction, default=False,
                           help="the reference's sampling of short videos with segments: every frame the first "
                                "one when the video has fewer (training) / at most (validation) --num-frames frames")
        group.add_argument("--reference-crop", action=argparse.BooleanOptionalAction, default=False,
                           help="the reference's random-resized-crop axis mix-up (boxes clipped at the border)")
        group.add_argument("--reference-color-jitter", action=argparse.BooleanOptionalAction, default=False,
                           help="the reference's colour jitter: coins per frame (flicker), weights in BGR order")

    def resolve(self, cfg: argparse.Namespace, mode: str, weights: Mapping[str, torch.Tensor] | None) -> None:
        attention = bool(VARIANTS[cfg.variant].arch["attention"])
        if mode == "test":
            require_keys(weights, ["fc.weight"], cfg.checkpoint, "a checkpoint of projects.st_abn.main or of the "
                         "ST-ABN reference")
            cfg.num_classes = int(weights["fc.weight"].shape[0])
            cfg.attention_classifier = attention and "attention.fc.weight" in weights
        elif cfg.num_classes is None:
            records = self._records(cfg, cfg.train_list, "--train-list", None)
            cfg.num_classes = max(record.label for record in records) + 1
        cfg.attention_classifier = attention and cfg.attention_classifier
        list_flag, list_file = ("--train-list", cfg.train_list) if mode == "train" else ("--val-list", cfg.val_list)
        if not list_file and not getattr(cfg, "video", None):  # explain.py may name videos instead
            raise RecipeError(f"{list_flag} is required")
        if mode == "train" and attention and not cfg.attention_classifier:
            raise RecipeError("training ST-ABN needs its attention classifier (--attention-classifier)")

    def build_model(self, cfg: argparse.Namespace, log: Log = print) -> STABN:
        attention = bool(VARIANTS[cfg.variant].arch["attention"])
        options = dict(dropout=cfg.dropout, checkpointing=cfg.checkpointing)
        if attention:
            options.update(attention_dropout=cfg.attention_dropout, attention_classifier=cfg.attention_classifier,
                           training_outputs=cfg.attention_classifier)
        return build_model(cfg.variant, cfg.num_classes, num_frames=cfg.num_frames, pretrained=cfg.pretrained,
                           **options)

    def weights(self, checkpoint: Any, cfg: argparse.Namespace) -> dict[str, torch.Tensor]:
        """Ours (``model``) or the reference's (``backbone.*``, ``necks.*``, ``cls_head.*``, converted)."""
        state = unwrap_state_dict(checkpoint)
        if any(key.startswith(("backbone.", "cls_head.")) for key in state):
            state = convert_reference_state_dict(state, cfg.variant)
        return state

    # ------------------------------------------------------------------------------------------------ data
    @staticmethod
    def _records(cfg: argparse.Namespace, list_file: str, flag: str, num_classes: int | None) -> list:
        path = Path(list_file)
        if not path.is_absolute() and not path.is_file():
            path = Path(cfg.data_root) / path
        if not path.is_file():
            raise RecipeError(f"{flag} {list_file}: no such file (also looked under --data-root {cfg.data_root})")
        return read_rawframe_list(path, data_root=cfg.data_root, num_classes=num_classes)

    @staticmethod
    def sampler(cfg: argparse.Namespace, test_rule: str = "val", num_clips: int = 1) -> STABNSegmentSampler:
        """MMAction v1 ``RawFramesDataset`` sampling of the configured setting; ``test_rule="val"`` is the
        reference's evaluation view, ``"test"`` with ``num_clips > 1`` spreads clips over the video."""
        clips = dict(uniform_test_clips=num_clips) if num_clips > 1 else {}
        if cfg.sampling == "segments":
            return STABNSegmentSampler(cfg.num_frames, test_rule=test_rule,
                                       reference_short_video=cfg.reference_short_video, **clips)
        return STABNSegmentSampler(1, new_length=cfg.num_frames, new_step=cfg.sampling_rate, test_rule=test_rule,
                                   **clips)

    def dataset(self, cfg: argparse.Namespace, split: str, views: ViewSpec | None = None) -> VideoClipDataset:
        if split == "train":
            records = self._records(cfg, cfg.train_list, "--train-list", cfg.num_classes)
            transform = Compose([MMActionV1RandomResizedCrop(cfg.crop_size, reference_axes=cfg.reference_crop),
                                 RandomHorizontalFlip(0.5 if cfg.flip else 0.0)])
            return VideoClipDataset(records, self.sampler(cfg), transform, mode="train", reader="frames",
                                    frame_template=cfg.frame_template, seed=cfg.seed)
        records = self._records(cfg, cfg.val_list, "--val-list", cfg.num_classes)
        return self.view_dataset(cfg, records, views or ViewSpec(1, 1))

    def view_dataset(self, cfg: argparse.Namespace, records: Sequence[Any], views: ViewSpec) -> VideoClipDataset:
        """The test views of any records (test.py, explain tools): one view is the reference's evaluation view."""
        geometry = "mmaction" if views.num_crops == 1 else "tsm"
        sampler = self.sampler(cfg, "val" if views.num_clips == 1 else "test", views.num_clips)

        def view(crop_index: int) -> Compose:
            return Compose([MMActionV1Rescale(cfg.scale_size),
                            TestCrop(cfg.crop_size, views.num_crops, crop_index, geometry)])

        return VideoClipDataset(records, sampler, view(0), mode="test", num_crops=views.num_crops,
                                test_transform_for_crop=view, reader="frames", frame_template=cfg.frame_template,
                                seed=cfg.seed)

    def preprocess(self, cfg: argparse.Namespace) -> STABNPreprocess:
        variant = self.variant(cfg)
        jitter = TPNColorJitter(reference_per_frame=cfg.reference_color_jitter) if cfg.color_jitter else None
        return STABNPreprocess(variant.mean, variant.std, jitter)

    # ------------------------------------------------------------------------------------------------ optimisation
    def optimizer(self, cfg: argparse.Namespace, model: nn.Module, log: Log = print) -> torch.optim.Optimizer:
        log(f"SGD on all {sum(p.numel() for p in model.parameters()):,} parameters (one group, BN and biases "
            f"decayed too, as the reference): lr {cfg.lr}, momentum {cfg.momentum}, nesterov {cfg.nesterov}, "
            f"weight decay {cfg.weight_decay}")
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)

    def loss(self, cfg: argparse.Namespace) -> LossFn:
        """Training (the model's dict): ``CE(perception) + w CE(attention)``; validation (logits): CE."""
        weight = cfg.attention_loss_weight

        def loss(outputs: Any, targets: torch.Tensor) -> torch.Tensor:
            if isinstance(outputs, dict):
                return stabn_loss(outputs, targets, weight)["loss"]
            return F.cross_entropy(outputs, targets.view(-1))

        return loss

    def accuracy(self, cfg: argparse.Namespace) -> AccuracyFn:
        return lambda outputs, labels: topk_correct(outputs["logits"] if isinstance(outputs, dict) else outputs,
                                                    labels)

    # ------------------------------------------------------------------------------------------------ explain
    # common.tools.explain (projects/st_abn/explain.py: with the reference's figure style): the model's own maps by
    # default (what the paper is about), Grad-CAM of the perception branch's last stage or of the attention branch
    # on request; the temporal attention can be edited (the authors' attention editing).
    explain_methods = ("attention", "gradcam")
    explain_layers = ("layer4", "attention.layers")
    attention_edits = ("temporal_attention",)

    def attention_maps(self, cfg: argparse.Namespace, model: nn.Module, inputs: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
        """``spatial_attention`` ``[T, h, w]`` (sigmoid), ``temporal_attention`` ``[T, 1, 1]`` and the perception
        branch's ``logits``; an edited ``temporal_attention`` (T weights) replaces the model's in that branch."""
        if getattr(model, "attention", None) is None:
            return {}
        edited = dict(getattr(cfg, "edit_attention", None) or []).get("temporal_attention")
        if edited is not None and edited.size != model.num_frames:
            raise RecipeError(f"--edit-attention temporal_attention needs {model.num_frames} weights (one per "
                              f"frame), got {edited.size}")
        outputs = model.forward_with_attention(inputs, None if edited is None else torch.as_tensor(edited))
        return {"spatial_attention": outputs["spatial_attention"][0, 0],  # [T, h, w]
                "temporal_attention": outputs["temporal_attention"][0, 0],  # [T, 1, 1]
                "logits": outputs["logits"][0]}  # [K]

    # ------------------------------------------------------------------------------------------------ test
    def multigrid_capability(self, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
        """Any crop (the attention maps and both heads pool globally); not another clip length: the temporal
        attention's frame-as-channel convolution and the attention classifier have T-sized weights."""
        return False, True, (f"the temporal attention and the attention classifier are built for --num-frames "
                             f"{cfg.num_frames}")

    def test_protocol(self, cfg: argparse.Namespace) -> ViewSpec:
        names = read_class_names(cfg.category_file) if cfg.category_file else None
        return ViewSpec(cfg.num_clips, cfg.num_crops, aggregate="mean", score="logits", classes=cfg.num_classes,
                        class_names=names, summary={"crop_size": float(cfg.crop_size),
                                                    "num_frames": float(cfg.num_frames)})


RECIPE = STABNRecipe()
