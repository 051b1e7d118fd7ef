"""What a paper supplies to the shared entry points (:mod:`common.engine.app`): the :class:`Recipe`.

A project's ``recipe.py`` subclasses :class:`Recipe`, overrides what its paper does differently and exposes one
instance as ``RECIPE``; its ``main.py`` is ``train(RECIPE, argv)`` and its ``test.py`` ``test(RECIPE, argv)``.
``projects/README.md`` is the walk-through; in short:

* **data**: ``name``, ``variants`` (the model file's variant table), ``presets`` (one per configuration the paper
  reports; keys are argparse destinations), ``defaults`` (the paper's values of shared flags without a preset),
  ``flag_aliases`` (the reference's spellings of shared flags), ``classifier_prefixes`` (the weights ``--finetune``
  may re-initialise), ``warmup_rule`` / ``per_step_lr`` (schedule facts);
* **must override**: :meth:`build_model`, :meth:`dataset`, :meth:`optimizer`;
* **may override**: :meth:`add_args` (the paper's own flags), :meth:`resolve` (derived values and checks),
  :meth:`weights` (read a checkpoint of ours or of the reference), :meth:`loss`, :meth:`accuracy`,
  :meth:`preprocess` (default: the variant's mean/std), :meth:`schedule` (default: the shared schedule flags),
  :meth:`test_protocol` (default: ``--num-clips`` x ``--num-crops``, softmax scores averaged),
  :meth:`multigrid_capability` and ``multigrid_bn_include`` (multigrid training, ``common/README.md``; default:
  refused);
* **explain, demo, predict** (``common/tools``): ``explain_layers`` (Grad-CAM layers), ``explain_methods``,
  :meth:`attention_maps` (the model's own attention), :meth:`view_dataset` (the test views of any video).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from common.engine.batch import ClipPreprocessor, Preprocess
from common.engine.checkpoint import unwrap_state_dict
from common.engine.metrics import topk_correct
from common.engine.schedules import LRSchedule, constant, cosine, steps_with_relative_lrs
from common.variants import Variant, lookup

Log = Callable[[str], None]
LossFn = Callable[[Any, Any], torch.Tensor]
AccuracyFn = Callable[[Any, Any], dict[str, torch.Tensor]]


class RecipeError(ValueError):
    """A configuration the recipe refuses; the entry points report it as a usage error (exit status 2)."""


@dataclass(frozen=True)
class ViewSpec:
    """How ``test.py`` scores a video: ``num_clips x num_crops`` views, combined as the paper does.

    Args:
        num_clips, num_crops: temporal and spatial views per video.
        aggregate: ``"sum"`` or ``"mean"`` over a video's views (the ranking is the same; ``mean`` keeps scores
            comparable across view counts).
        score: ``"softmax"`` (probabilities are combined) or ``"logits"``.
        classes: classifier size, or ``{"verb": 97, "noun": 300}`` for multi-head models.
        class_names: names in label order (confusion-matrix labels), when known.
        summary: extra numbers recorded in ``metrics.json`` (e.g. the crop size of the views).
    """

    num_clips: int
    num_crops: int
    aggregate: str = "mean"
    score: str = "softmax"
    classes: int | Mapping[str, int] = 0
    class_names: Sequence[str] | None = None
    summary: Mapping[str, float] = field(default_factory=dict)


class Recipe:
    """The paper-specific half of training and testing; see the module docstring and ``projects/README.md``.

    Every method receives the resolved configuration ``cfg`` (an ``argparse.Namespace`` of the shared flags, the
    engine flags and the recipe's own flags).
    """

    name: str = ""
    variants: Mapping[str, Variant] = {}
    presets: Mapping[str, Mapping[str, Any]] = {}
    defaults: Mapping[str, Any] = {}
    flag_aliases: Mapping[str, Sequence[str]] = {}
    classifier_prefixes: tuple[str, ...] = ("head.",)
    warmup_rule: str = "linear"
    per_step_lr: bool = True

    # ------------------------------------------------------------------------------------------------ flags
    def add_args(self, parser: argparse.ArgumentParser) -> None:
        """Add the paper's own flags (shared ones come from ``common.engine.cli``). Booleans that a preset may turn
        on use ``argparse.BooleanOptionalAction`` so that ``--no-...`` turns them off again."""

    def resolve(self, cfg: argparse.Namespace, mode: str, weights: Mapping[str, torch.Tensor] | None) -> None:
        """Fill derived values in place (e.g. ``num_classes`` from a class list) and refuse inconsistent ones with
        :class:`RecipeError`. ``mode`` is ``"train"`` or ``"test"``; in test mode ``weights`` are the tested
        checkpoint's (as :meth:`weights` returns them). Runs before ``config.json`` is written."""

    # ------------------------------------------------------------------------------------------------ model
    def variant(self, cfg: argparse.Namespace) -> Variant:
        return lookup(self.variants, cfg.variant, self.name)

    def build_model(self, cfg: argparse.Namespace, log: Log = print) -> nn.Module:
        """The model ``cfg`` describes, initialised from ``--pretrained`` when given."""
        raise NotImplementedError

    def weights(self, checkpoint: Any, cfg: argparse.Namespace) -> dict[str, torch.Tensor]:
        """Model weights of a loaded checkpoint, in this project's names (convert the reference's here). test.py
        loads them strictly; ``--finetune`` requires every weight outside ``classifier_prefixes`` and
        re-initialises a classifier of another shape."""
        return unwrap_state_dict(checkpoint)

    # ------------------------------------------------------------------------------------------------ data
    def dataset(self, cfg: argparse.Namespace, split: str, views: ViewSpec | None = None) -> Any:
        """The dataset of ``split``: ``"train"`` (``--train-list``, training transforms), ``"val"``
        (``--val-list``, one deterministic view per video) or ``"test"`` (``--val-list``, every view of ``views``)."""
        raise NotImplementedError

    def preprocess(self, cfg: argparse.Namespace) -> Preprocess:
        """Device-side normalisation with the variant's mean/std (and train-only augmentation, e.g. mixup)."""
        variant = self.variant(cfg)
        return ClipPreprocessor(variant.mean, variant.std)

    # ------------------------------------------------------------------------------------------------ optimisation
    def optimizer(self, cfg: argparse.Namespace, model: nn.Module, log: Log = print) -> torch.optim.Optimizer:
        """The paper's optimiser over its parameter groups (log them with ``log``)."""
        raise NotImplementedError

    def schedule(self, cfg: argparse.Namespace) -> LRSchedule:
        """The shared schedule flags (``--lr-policy``, ``--lr-steps``, ``--lr-factors``, ...) with the paper's
        warm-up rule."""
        if cfg.lr_policy == "cosine":
            policy = cosine(cfg.lr, cfg.epochs, cfg.cosine_end_lr)
        elif cfg.lr_policy == "constant":
            policy = constant(cfg.lr)
        else:
            if len(cfg.lr_steps) != len(cfg.lr_factors):
                raise RecipeError(f"--lr-steps {cfg.lr_steps} and --lr-factors {cfg.lr_factors} differ in length")
            if cfg.lr_steps and cfg.lr_steps[0] <= 0:
                raise RecipeError(f"--lr-steps are milestones after epoch 0, got {cfg.lr_steps}")
            policy = steps_with_relative_lrs(cfg.lr, [0, *cfg.lr_steps], [1.0, *cfg.lr_factors])
        return LRSchedule(policy, cfg.lr, warmup_epochs=cfg.warmup_epochs, warmup_start_lr=cfg.warmup_start_lr,
                          warmup_rule=self.warmup_rule, per_step=self.per_step_lr)

    def loss(self, cfg: argparse.Namespace) -> LossFn:
        """``(logits, targets) -> scalar``; training passes the targets :meth:`preprocess` returns."""
        return F.cross_entropy

    def accuracy(self, cfg: argparse.Namespace) -> AccuracyFn:
        """``(logits, labels) -> {metric: correct count}``; the keys are the validation metrics."""
        return topk_correct

    # ------------------------------------------------------------------------------------------------ multigrid
    # The BN layers the multigrid rule switches: None = all, or a staticmethod (name, module) -> bool.
    multigrid_bn_include: Callable[[str, nn.Module], bool] | None = None

    def multigrid_capability(self, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
        """``(variable frames, variable crop, reason)``: whether the model takes the clip lengths and crops of
        ``--multigrid-long`` (both needed) and ``--multigrid-short`` (crops); the reason explains a refusal
        (``common.engine.multigrid.multigrid_clip_sizes`` lists a run's sizes). Default: neither."""
        return False, False, f"projects.{self.name} does not declare multigrid support (Recipe.multigrid_capability)"

    # ------------------------------------------------------------------------------------------------ test
    def test_protocol(self, cfg: argparse.Namespace) -> ViewSpec:
        return ViewSpec(cfg.num_clips, cfg.num_crops, classes=cfg.num_classes)

    # ------------------------------------------------------------------------------------------------ explain
    # Module names for Grad-CAM, the first being the default (``common.tools.explain --layer`` takes any); empty:
    # the last top-level module that returns a feature map. Methods the tool offers, the first being the default.
    explain_layers: tuple[str, ...] = ()
    explain_methods: tuple[str, ...] = ("gradcam",)
    # The attention maps ``attention_maps`` lets the user replace (``common.tools.explain --edit-attention``).
    attention_edits: tuple[str, ...] = ()

    def attention_maps(self, cfg: argparse.Namespace, model: nn.Module, inputs: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
        """The model's own attention for one normalised clip ``inputs`` ``[1, 3, T, H, W]``: ``{name: [T', h, w]}``
        (per-frame weights as ``[T', 1, 1]``, drawn as bars); the tool aligns each to the clip's frames and size.
        Optional ``logits`` ``[K]``: the prediction of the forward pass the maps come from. Default: none.

        The explain tool's options reach the hook in ``cfg`` where they apply: ``query`` (a query token, frame row
        column), ``block`` (which block's attention, negative from the end), ``per_head`` (a map per head beside
        the mean), ``edit_attention`` (``[(name, values)]``: maps named in ``attention_edits`` that replace the
        model's own in the forward pass; the hook then returns the edited maps and the edited ``logits``)."""
        return {}

    def view_dataset(self, cfg: argparse.Namespace, records: Sequence[Any], views: ViewSpec) -> Any:
        """The test dataset of ``views`` over ``records`` (``VideoRecord`` of any video, for explain, demo and
        predict): same sampler and transforms as :meth:`dataset` in ``"test"``. Default: that dataset with its records
        replaced, which reads ``--val-list`` once; override where the list may be absent."""
        dataset = self.dataset(cfg, "test", views)
        dataset.records = list(records)
        return dataset
