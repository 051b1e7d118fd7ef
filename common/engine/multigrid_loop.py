"""The trainer's multigrid hook: per-epoch loader shape and BN mode, checkpointed phase state, clean switches.

:class:`MultigridTraining` is handed to :class:`~common.engine.trainer.Trainer` (``multigrid=``). Before every
epoch the trainer asks it for the training loader. When the clip shape changes (or on the first epoch, fresh or
resumed) the hook

1. closes the previous loader's workers (persistent ones included), so no worker outlives its phase;
2. switches BN for the phase's per-process batch (:func:`common.engine.multigrid_bn.bn_rule`), starting from the
   plain statistics, and, when resuming inside that phase, restores the sub-batch statistics saved with it;
3. builds the phase's loader: ``dataset_for(shape, crop)`` once per crop (three crops with the short cycle, whose
   batches come from :class:`~common.data.short_cycle.ShortCycleBatchSampler`), per-process batch = the phase's
   global batch / processes.

Consecutive phases of the same shape (the last base-shape phase of a stage and the fine-tuning phase) keep loader
and BN, as in PySlowFast, which rebuilds only when the shape changes. Checkpoints record the phase, its shape and
every rank's sub-batch statistics (:meth:`state_dict`), and ``--resume auto`` continues bit for bit, also across
a phase boundary. At the end of training the BN modules become plain again.

:func:`prepare_multigrid` is the entry points' side: from the flags and the recipe it refuses models that cannot
take variable clips (the recipe's ``multigrid_capability(cfg) -> (variable frames, variable crop, reason)``;
without it, multigrid is refused), recomputes the schedule, writes ``multigrid_schedule.png`` and builds the hook
over ``recipe.dataset`` with the phase's ``num_frames`` / ``sampling_rate`` / ``crop_size`` (and the jitter
minimum scaled with the crop: ``jitter_min`` or ``jitter_scales[0]``).
"""
from __future__ import annotations

import argparse
import contextlib
import copy as _copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from common.data.datasets import collate_views
from common.data.loader import EpochTaggedSampler, ShardedSampler, worker_init_fn
from common.data.short_cycle import RandomRateSampler, ShortCycleBatchSampler, ShortCycleDataset
from common.distributed import all_gather_object
from common.engine.cli import per_process_batch_size
from common.engine.multigrid import (ClipShape, MultigridError, MultigridPlan, check_capability, plan_from_config,
                                     save_schedule_png, scaled_jitter, short_cycle_batch_factors, short_cycle_crops)
from common.engine.multigrid_bn import (bn_rule, load_sub_batchnorm_state, set_batchnorm_mode, sub_batchnorm_state,
                                        track_clip_batch)
from common.engine.schedules import LRSchedule

DatasetFor = Callable[[ClipShape, int], Dataset]


class MultigridTraining:
    """Long/short-cycle loaders and BN modes for :class:`~common.engine.trainer.Trainer`.

    Args:
        plan: from :func:`common.engine.multigrid.multigrid_plan` (its ``epochs`` must be the trainer's).
        dataset_for: ``(shape, crop) -> training dataset`` for the phase's frames / sampling rate and that crop
            (the recipe's dataset with those values; :func:`common.engine.multigrid.scaled_jitter` gives
            PySlowFast's jitter range for a crop).
        rank, world_size: this process and the number of processes.
        workers, persistent_workers, pin_memory, seed: loader settings (as ``common.data.datasets.build_loader``).
        bn_base_size: clips per BN statistics group (PySlowFast ``MULTIGRID.BN_BASE_SIZE``, 8).
        bn_include: ``(name, module) -> bool`` choosing the BN modules that follow the rule (default: all).
        epoch_tagged: items are ``(epoch, index)`` (``VideoClipDataset``); False for datasets taking plain indices.
        eval_freq: evaluations per long-cycle phase (PySlowFast ``MULTIGRID.EVAL_FREQ``); 0: every ``eval_every``.
        log: where phase changes are reported (default: the ``log`` given to :meth:`loader_for_epoch`, else print).
    """

    def __init__(self, plan: MultigridPlan, dataset_for: DatasetFor, *, rank: int = 0, world_size: int = 1,
                 workers: int = 0, persistent_workers: bool = False, pin_memory: bool = False, seed: int = 0,
                 bn_base_size: int = 8, bn_include: Callable[[str, nn.Module], bool] | None = None,
                 epoch_tagged: bool = True, eval_freq: int = 0, log: Callable[[str], None] | None = None) -> None:
        self.plan, self.dataset_for = plan, dataset_for
        self.rank, self.world_size = rank, world_size
        self.workers, self.persistent_workers = workers, persistent_workers
        self.pin_memory, self.seed = pin_memory, seed
        self.bn_base_size, self.bn_include = bn_base_size, bn_include
        self.epoch_tagged, self.eval_freq, self.log = epoch_tagged, eval_freq, log
        self.phase: int | None = None
        self.shape: ClipShape | None = None
        self.bn_mode = ("plain", 1)
        self.loader: DataLoader | None = None
        self._pending: tuple[int, Any] | None = None

    # ---------------------------------------------------------------------------------------------- per epoch
    def loader_for_epoch(self, model: nn.Module, epoch: int, log: Callable[[str], None] | None = None) -> DataLoader:
        """The training loader of ``epoch``, switching phase (loader and BN) first when needed."""
        phase, shape = self.plan.phase_index(epoch), self.plan.shape(epoch)
        if self.loader is not None and shape == self.shape:  # PySlowFast rebuilds only when the shape changes
            if phase != self.phase:
                (self.log or log or print)(f"multigrid phase {phase + 1}/{len(self.plan.phases)} from epoch "
                                           f"{epoch + 1}: same shape, loader and BN kept")
            self.phase = phase
            return self.loader
        self.close()
        batch = per_process_batch_size(shape.batch_size, self.world_size)
        message = (f"multigrid phase {phase + 1}/{len(self.plan.phases)} from epoch {epoch + 1}: "
                   if self.plan.phases else f"multigrid (short cycle) from epoch {epoch + 1}: ")
        message += (f"global batch {shape.batch_size}, {shape.frames} frames at rate {shape.sampling_rate}"
                    f"{f'-{shape.max_sampling_rate}' if shape.max_sampling_rate > shape.sampling_rate else ''}, "
                    f"crop {shape.crop}")
        if self.plan.phases:  # the BN rule follows the long cycle (PySlowFast: BN.NORM_TYPE set per phase)
            mode, size = bn_rule(batch, self.bn_base_size)
            note = ""
            if mode == "plain" and self.world_size > 1:
                mode = "sub"  # one split per process: the eval statistics cover every process's clips
            elif mode == "sync" and self.world_size == 1:  # PySlowFast's synchronised BN is plain BN on one GPU
                mode, size, note = "plain", 1, f" (sync over {size} processes; there is 1)"
            track_clip_batch(model)  # frame-folded BN inputs ([B*T, C, H, W]) split by clip
            switched = set_batchnorm_mode(model, mode, size, self.bn_include)
            self.bn_mode = (mode, size)
            message += f"; BN {mode} x{size}{note} ({switched} layers, {batch} clips per process)"
            if self._pending is not None and self._pending[0] == dataclasses.astuple(shape):
                try:
                    load_sub_batchnorm_state(model, self._pending[1])
                except ValueError as error:  # e.g. resumed on another number of processes: splits differ
                    message += f"; sub-batch BN statistics restart from the plain ones ({error})"
            self._pending = None
        if self.plan.short_cycle:
            crops, factors = short_cycle_crops(shape), short_cycle_batch_factors(shape)
            dataset: Dataset = ShortCycleDataset([self.dataset_for(shape, crop) for crop in crops])
            message += f"; short cycle crops {crops} with batches x{factors}"
        else:
            factors = None
            dataset = self.dataset_for(shape, shape.crop)
        self.loader = self._build_loader(dataset, batch, factors)
        if len(self.loader) == 0:
            message += (f"; WARNING: no batch fits this process's {len(dataset)} clips, the phase's epochs train "
                        f"nothing (use more clips or a smaller --batch-size)")
        (self.log or log or print)(message)
        self.phase, self.shape = phase, shape
        return self.loader

    def _build_loader(self, dataset: Dataset, batch: int, factors: tuple[int, int, int] | None) -> DataLoader:
        sampler_class = EpochTaggedSampler if self.epoch_tagged else ShardedSampler
        sampler = sampler_class(len(dataset), shuffle=True, seed=self.seed, rank=self.rank,
                                world_size=self.world_size)
        workers = self.workers
        options: dict[str, Any] = dict(num_workers=workers, pin_memory=self.pin_memory,
                                       persistent_workers=self.persistent_workers and workers > 0,
                                       worker_init_fn=worker_init_fn if workers > 0 else None,
                                       collate_fn=collate_views if self.epoch_tagged else None)
        if factors is None:
            return DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True,
                              generator=_generator(self.seed), **options)
        return DataLoader(dataset, batch_sampler=ShortCycleBatchSampler(sampler, batch, factors, drop_last=True),
                          generator=_generator(self.seed), **options)

    def is_eval_epoch(self, epoch: int, eval_every: int) -> bool:
        """Whether the end of ``epoch`` (0-based) is an evaluation point: ``eval_freq`` times per long-cycle phase,
        the last at the phase's end (PySlowFast ``is_eval_epoch``), else every ``eval_every`` epochs."""
        start = 0
        for phase in self.plan.phases if self.eval_freq > 0 else ():
            if epoch < phase.end_epoch:
                period = max((phase.end_epoch - start) // self.eval_freq + 1, 1)
                return (phase.end_epoch - 1 - epoch) % period == 0
            start = phase.end_epoch
        return (epoch + 1) % eval_every == 0

    @contextlib.contextmanager
    def plain_batchnorm(self, model: nn.Module) -> Iterator[None]:
        """Plain BN inside the block (e.g. for precise BN statistics, which read and write the plain running
        statistics), the phase's BN mode again after it, started from the statistics the block left."""
        mode, size = self.bn_mode
        set_batchnorm_mode(model, "plain", 1, self.bn_include)
        try:
            yield
        finally:
            if mode != "plain":
                set_batchnorm_mode(model, mode, size, self.bn_include)

    def close(self) -> None:
        """Stop the current loader's workers (persistent workers live in the loader's iterator)."""
        iterator = getattr(self.loader, "_iterator", None) if self.loader is not None else None
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        if self.loader is not None:
            self.loader._iterator = None
        self.loader, self.phase, self.shape = None, None, None

    def finish(self, model: nn.Module) -> None:
        """End of training: workers stopped, BN plain again (the trained model is an ordinary model)."""
        self.close()
        set_batchnorm_mode(model, "plain", 1, self.bn_include)

    # ---------------------------------------------------------------------------------------------- checkpoints
    def state_dict(self, model: nn.Module) -> dict[str, Any]:
        """The phase, its shape and every rank's sub-batch BN statistics (a collective under DDP)."""
        shape = list(dataclasses.astuple(self.shape)) if self.shape is not None else None
        return {"phase": self.phase, "shape": shape,
                "sub_batchnorm_per_rank": all_gather_object(sub_batchnorm_state(model))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore at the next :meth:`loader_for_epoch` if its shape is the saved one (same phase, or a next phase
        of the same shape, which PySlowFast does not treat as a change)."""
        per_rank = state["sub_batchnorm_per_rank"]
        if state.get("shape") is not None and per_rank:
            self._pending = (tuple(state["shape"]), per_rank[min(self.rank, len(per_rank) - 1)])
        self.close()


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)  # worker seeds; common.data.loader reseeds it every epoch


@dataclass
class MultigridSetup:
    """What :func:`prepare_multigrid` gives the entry point: the plan, the lr schedule (the long cycle's; with the
    short cycle alone, the recipe's over the stretched ``lr_steps`` and ``epochs``), the trainer hook, and the
    configuration the trainer runs with (``epochs`` = the plan's; the written ``config.json`` keeps the base
    values, from which the plan is recomputed on resume)."""

    plan: MultigridPlan
    schedule: LRSchedule
    hook: MultigridTraining
    trainer_config: argparse.Namespace


def multigrid_capability(recipe: Any, cfg: argparse.Namespace) -> tuple[bool, bool, str]:
    """``(variable frames, variable crop, reason)`` from the recipe's ``multigrid_capability(cfg)``; a recipe
    without that method declares neither (multigrid is then refused)."""
    declare = getattr(recipe, "multigrid_capability", None)
    if declare is None:
        return False, False, f"projects.{getattr(recipe, 'name', '?')} does not declare multigrid support"
    return declare(cfg)


def shape_config(cfg: argparse.Namespace, shape: ClipShape, crop: int) -> argparse.Namespace:
    """``cfg`` with the phase's frames, sampling rate and ``crop`` (and PySlowFast's scaled jitter minimum when
    the recipe has ``--jitter-min`` / ``--jitter-max`` or ``--jitter-scales MIN MAX``)."""
    shaped = argparse.Namespace(**vars(cfg))
    shaped.num_frames, shaped.sampling_rate, shaped.crop_size = shape.frames, shape.sampling_rate, crop
    if getattr(cfg, "jitter_min", None) is not None and getattr(cfg, "jitter_max", None) is not None:
        shaped.jitter_min, shaped.jitter_max = scaled_jitter(cfg.jitter_min, cfg.jitter_max, crop, shape.default_crop)
    if getattr(cfg, "jitter_scales", None) is not None:
        shaped.jitter_scales = list(scaled_jitter(*cfg.jitter_scales, crop, shape.default_crop))
    return shaped


def recipe_dataset_for(recipe: Any, cfg: argparse.Namespace) -> DatasetFor:
    """``dataset_for`` over ``recipe.dataset(shaped cfg, "train")``; a phase with fewer frames than the default
    draws each clip's sampling rate in the phase's range when the dataset's frame sampler has a ``sampling_rate``."""

    def dataset_for(shape: ClipShape, crop: int) -> Dataset:
        dataset = recipe.dataset(shape_config(cfg, shape, crop), "train")
        sampler = getattr(dataset, "sampler", None)
        if shape.max_sampling_rate > shape.sampling_rate and hasattr(sampler, "sampling_rate"):
            def with_rate(rate: int, base: Any = sampler) -> Any:
                copy = _copy.copy(base)
                copy.sampling_rate = rate
                return copy

            dataset.sampler = RandomRateSampler(with_rate, shape.sampling_rate, shape.max_sampling_rate)
        return dataset

    return dataset_for


def check_multigrid(recipe: Any, cfg: argparse.Namespace) -> MultigridPlan | None:
    """Refuse what multigrid cannot train (:class:`MultigridError`, a usage error) and return the plan (None when
    both cycles are off); cheap, so the entry points call it while parsing."""
    if not (getattr(cfg, "multigrid_long", False) or getattr(cfg, "multigrid_short", False)):
        return None
    frames_ok, crop_ok, reason = multigrid_capability(recipe, cfg)
    check_capability(cfg.multigrid_long, cfg.multigrid_short, frames_ok, crop_ok,
                     f"{getattr(recipe, 'name', 'this project')} {getattr(cfg, 'variant', '')}".strip(), reason)
    step_policy = getattr(cfg, "lr_policy", "step") == "step"
    if cfg.multigrid_long and not step_policy:
        raise MultigridError(f"the long cycle recomputes a step schedule (PySlowFast steps_with_relative_lrs); "
                             f"--lr-policy {cfg.lr_policy} is not one")
    steps = [0, *(int(step) for step in cfg.lr_steps)] if step_policy else [0]
    return plan_from_config(cfg, steps, [1.0, *cfg.lr_factors] if step_policy else [1.0])


def prepare_multigrid(recipe: Any, cfg: argparse.Namespace, rank: int = 0, world_size: int = 1,
                      log: Callable[[str], None] = print) -> MultigridSetup | None:
    """Everything ``--multigrid-long`` / ``--multigrid-short`` change for a training run, or None when both are
    off: refuses models that cannot take the clip sizes, recomputes the step schedule, logs it and writes
    ``multigrid_schedule.png`` (lr, batch, frames, crop per epoch) into the run directory (main process)."""
    plan = check_multigrid(recipe, cfg)
    if plan is None:
        return None
    for line in plan.describe():
        log(line)
    if rank == 0:
        path = save_schedule_png(plan, cfg.lr, Path(cfg.output_dir) / "multigrid_schedule.png", cfg.warmup_epochs,
                                 cfg.warmup_start_lr)
        log(f"multigrid schedule picture: {path}")
    hook = MultigridTraining(plan, recipe_dataset_for(recipe, cfg), rank=rank, world_size=world_size,
                             workers=cfg.workers, seed=cfg.seed, pin_memory=torch.cuda.is_available(),
                             bn_base_size=cfg.multigrid_bn_base_size, eval_freq=cfg.multigrid_eval_freq,
                             bn_include=getattr(recipe, "multigrid_bn_include", None))
    trainer_config = argparse.Namespace(**vars(cfg))
    trainer_config.epochs = plan.epochs
    if plan.phases:
        schedule = plan.lr_schedule(cfg.lr, cfg.warmup_epochs, cfg.warmup_start_lr)
    else:  # short cycle alone: the recipe's own schedule over the stretched steps and epochs
        trainer_config.lr_steps = plan.steps[1:] if cfg.lr_policy == "step" else cfg.lr_steps
        schedule = recipe.schedule(trainer_config)
    return MultigridSetup(plan, schedule, hook, trainer_config)
