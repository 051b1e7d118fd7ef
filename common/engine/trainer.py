"""The training loop every project's ``main.py`` calls.

A project wires its paper-specific choices (model, loss, optimiser with its parameter groups, LR schedule, data)
and hands them to :class:`Trainer`, which owns everything generic: device placement, SyncBatchNorm, DDP,
``channels_last``, ``torch.compile``, AMP (``off`` / ``fp16`` with a checkpointed GradScaler / ``bf16``), gradient
accumulation and clipping, non-blocking copies, timing, tqdm, TensorBoard, validation, checkpoints, resume,
SIGTERM/SIGINT handling and the non-finite-loss stop::

    info = init_distributed(args.device)
    seed_everything(args.seed + info.rank, args.deterministic)
    trainer = Trainer(model, optimizer, schedule, loss_fn, train_loader, args, val_loader=val_loader,
                      preprocess=ClipPreprocessor(mean, std), dist_info=info)
    result = trainer.fit()

Batches are dicts ``{"clip": uint8 [B, 3, T, H, W], "label": tensor or dict of tensors, ...}`` (the data
pipeline's contract). ``preprocess`` turns the device-side uint8 clip into the model input (and may mix targets);
``loss_fn(logits, targets)`` returns a scalar; ``accuracy_fn(logits, labels)`` returns correct counts per metric
(default top-1 / top-5), computed with the un-mixed labels.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm import tqdm

from common.data.device_transforms import IMAGENET_MEAN, IMAGENET_STD
from common.distributed import DistInfo, all_gather_object, all_reduce_sum, convert_sync_batchnorm
from common.engine.bad_samples import BadSampleLedger
from common.engine.batch import ClipPreprocessor, Preprocess, convert_memory_format, move_to_device
from common.engine.checkpoint import CheckpointManager, capture_rng_state, restore_rng_state
from common.engine.cli import config_to_dict, refuse_unusable_flags, save_resolved_config
from common.engine.evaluate import validate
from common.data.loader import batches_per_epoch, set_loader_epoch
from common.engine.logging import RunLogger
from common.engine.metrics import AMP_DTYPES, MetricSums, autocast_context, topk_correct
from common.engine.precise_bn import clip_inputs, update_bn_stats
from common.engine.schedules import LRSchedule
from common.engine.signals import StopSignals, exit_status



class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last checkpoint on disk predates it."""


@dataclass
class TrainResult:
    """How :meth:`Trainer.fit` ended: ``finished``, ``max_steps`` or ``interrupted``; ``exit_code``: 0, 143 or 130."""

    status: str
    epoch: int
    step: int
    best_metric: float | None
    last_validation: dict[str, float]
    exit_code: int = 0


class Trainer:
    """Fits a model; see the module docstring for the division of work with a project's ``main.py``.

    Args:
        model: the bare model (moved to the device, converted and wrapped here; the optimiser may already hold its
            parameters, which are converted in place).
        optimizer: optimiser over the model's parameters (groups may carry ``lr_mult``).
        schedule: called every optimiser step with the fractional epoch.
        loss_fn: ``(logits, targets) -> scalar``; logits may be a dict (multi-head models). Training passes the
            targets ``preprocess`` returns (soft ones after mixup); validation passes the dataset's labels.
        train_loader: ideally from ``common.data.loader.build_loader`` (a ShardedSampler: cheap exact resume).
        config: the parsed flags of :func:`common.engine.cli.add_engine_args`.
        val_loader: single-view validation set (optional).
        preprocess: ``(uint8 clip on device, labels, train) -> (model input, targets)``.
        accuracy_fn: ``(logits, labels) -> {metric: correct count}``; default top-1 / top-5.
        dist_info: from :func:`common.distributed.init_distributed`; default: one CPU/CUDA process.
        logger: a :class:`RunLogger`; default: one for ``config.output_dir``.
        multigrid: a :class:`common.engine.multigrid_loop.MultigridTraining`: it supplies each epoch's training
            loader (``train_loader`` is then unused), switches BN per phase, and its state goes into checkpoints.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: LRSchedule,
                 loss_fn: Callable[[Any, Any], torch.Tensor], train_loader: torch.utils.data.DataLoader,
                 config: argparse.Namespace, val_loader: torch.utils.data.DataLoader | None = None,
                 preprocess: Preprocess | None = None,
                 accuracy_fn: Callable[[Any, Any], dict[str, torch.Tensor]] = topk_correct,
                 dist_info: DistInfo | None = None, logger: RunLogger | None = None,
                 multigrid: Any = None) -> None:
        device = torch.device("cuda" if torch.cuda.is_available() and config.device != "cpu" else "cpu")
        self.info = dist_info or DistInfo(0, 1, 0, device, None)
        self.device = self.info.device
        self.config = config
        self.optimizer, self.schedule, self.loss_fn = optimizer, schedule, loss_fn
        self.train_loader, self.val_loader = train_loader, val_loader
        self.preprocess = preprocess or ClipPreprocessor(IMAGENET_MEAN, IMAGENET_STD)
        self.accuracy_fn = accuracy_fn
        self.multigrid = multigrid
        self.output_dir = Path(config.output_dir)
        self.logger = logger or RunLogger(self.output_dir, is_main=self.info.is_main)
        self.checkpoints = CheckpointManager(self.output_dir / "checkpoints", config.save_every,
                                             is_main=self.info.is_main, log=self.logger.info)
        if config.accum_steps < 1:
            raise ValueError(f"--accum-steps must be >= 1, got {config.accum_steps}")

        refuse_unusable_flags(config, self.device, self.info.world_size)
        self.model = model.to(self.device)  # the bare module: what checkpoints hold
        if config.sync_bn and self.info.distributed:
            self.model = convert_sync_batchnorm(self.model)
        if config.channels_last:
            convert_memory_format(self.model)
        wrapped: nn.Module = self.model
        if self.info.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = nn.parallel.DistributedDataParallel(
                self.model, device_ids=device_ids, find_unused_parameters=config.find_unused_parameters)
        self.ddp_model = wrapped
        self.forward_model = torch.compile(wrapped) if config.compile else wrapped
        self.amp_dtype = AMP_DTYPES[config.amp]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.amp == "fp16")

        self.epoch = 0  # epoch in progress
        self.batches_done = 0  # batches of that epoch already trained on
        self.step = 0  # optimiser steps since the start of the run
        self.best_metric: float | None = None
        self.last_validation: dict[str, float] = {}
        self._pending_rng: dict[str, Any] | None = None
        self.signals = StopSignals()
        self.bad_samples = BadSampleLedger.for_run(config, self.info, self.logger.info)
        self._progress: Any = None  # the whole run's tqdm bar
        self._run_start, self._run_batches = time.perf_counter(), 0  # this process's share of the run, for the ETA

    # ---------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-exactly (collective: every rank contributes its RNG state)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "step": self.step,
            "best_metric": self.best_metric,
            "last_validation": dict(self.last_validation),
            "rng_per_rank": all_gather_object(capture_rng_state()),
            "logger": self.logger.state_dict(),
            "bad_samples": self.bad_samples.state_dict(),
            "config": config_to_dict(self.config),
            **({"multigrid": self.multigrid.state_dict(self.model)} if self.multigrid is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.batches_done, self.step = state["epoch"], state["batches_done"], state["step"]
        self.best_metric = state["best_metric"]
        self.last_validation = dict(state["last_validation"])
        self.logger.load_state_dict(state["logger"])
        self.bad_samples.load_state_dict(state.get("bad_samples", {"epoch": self.epoch, "failures": 0}))
        if self.multigrid is not None and "multigrid" in state:
            self.multigrid.load_state_dict(state["multigrid"])
        rng_states = state["rng_per_rank"]
        if len(rng_states) != self.info.world_size:
            self.logger.info(f"checkpoint was written by {len(rng_states)} processes, now {self.info.world_size}: "
                             f"random streams restart from rank 0's, so results will not match bit for bit")
        # Restored after the epoch's DataLoader iterator exists: creating an iterator may draw random numbers.
        self._pending_rng = rng_states[min(self.info.rank, len(rng_states) - 1)]

    def save_checkpoint(self, is_best: bool = False, epoch_finished: int | None = None) -> None:
        self._raise_if_non_finite()
        self.checkpoints.save(self.state_dict(), epoch_finished=epoch_finished, is_best=is_best)

    # ---------------------------------------------------------------------------------------------- checks
    def _raise_if_non_finite(self) -> None:
        first_bad = getattr(self, "_first_bad_step", None)
        if first_bad is None:
            return
        bad_ranks = all_reduce_sum((first_bad >= 0).float().reshape(1)).item()
        if bad_ranks > 0:
            where = (f"at optimiser step {int(first_bad.item()) + 1}" if first_bad.item() >= 0
                     else "on another process")
            raise NonFiniteLossError(
                f"training loss became NaN/inf {where} (epoch {self.epoch + 1}); stopping. The last checkpoint "
                f"in {self.checkpoints.directory} predates it. Lower the lr, set --grad-clip, or try --amp bf16/off")

    # ---------------------------------------------------------------------------------------------- loop
    def fit(self) -> TrainResult:
        """Train for ``config.epochs`` epochs (resuming first if ``config.resume`` says so)."""
        config = self.config
        if not (self.output_dir / "config.json").exists():
            save_resolved_config(config, self.output_dir)
        state = self.checkpoints.resume(config.resume, map_location=self.device)
        if state is not None:
            self.load_state_dict(state)
        self.logger.info(
            f"training epochs {self.epoch + 1}..{config.epochs} from step {self.step} on {self.info.world_size} "
            f"process(es), device {self.device}, global batch {config.batch_size} x {config.accum_steps} "
            f"accumulation, amp {config.amp}, output {self.output_dir}")
        status = "finished"
        self._progress = tqdm(desc="training", unit="batch", dynamic_ncols=True,
                              disable=not self.info.is_main or config.no_progress)
        with self.signals.installed():
            while self.epoch < config.epochs:
                if self.multigrid is not None:
                    self.train_loader = self.multigrid.loader_for_epoch(self.model, self.epoch, self.logger.info)
                status = self._train_epoch()
                if status == "interrupted":
                    self.save_checkpoint()
                    self.logger.info(f"interrupted: checkpoint saved at step {self.step}; resume with --resume auto")
                    break
                epoch_finished = self.epoch + (1 if status == "epoch_done" else 0)
                last_epoch = epoch_finished >= config.epochs or status == "max_steps"
                is_best = False
                evaluation_point = last_epoch or (self.multigrid.is_eval_epoch(self.epoch, config.eval_every)
                                                  if self.multigrid else epoch_finished % config.eval_every == 0)
                snapshot_point = status == "epoch_done" and self.checkpoints.is_snapshot_epoch(epoch_finished)
                if (evaluation_point or snapshot_point) and getattr(config, "precise_bn_batches", 0) > 0:
                    self._precise_bn()
                if self.val_loader is not None and evaluation_point:
                    is_best = self._validate()
                if status == "epoch_done":
                    self.epoch, self.batches_done = epoch_finished, 0
                self.save_checkpoint(is_best=is_best, epoch_finished=epoch_finished if status == "epoch_done"
                                     else None)
                self.logger.refresh_curves()  # each epoch of a real run, so it can be watched
                if status == "max_steps":
                    self.logger.info(f"--max-steps {config.max_steps} reached")
                    break
        self._progress.close()
        if self.multigrid is not None:
            self.multigrid.finish(self.model)
        self.logger.save_curves()
        status = status if status != "epoch_done" else "finished"
        return TrainResult(status, self.epoch, self.step, self.best_metric, self.last_validation,
                           exit_status(status, self.signals.signum))

    def _precise_bn(self) -> None:
        """PySlowFast's precise BN (``--precise-bn-batches N``): once at the end of each epoch that is an
        evaluation point or keeps an ``epoch_XXXX.pth`` snapshot (``--save-every``, PySlowFast's checkpoint
        period), before both, replace the BN running statistics by their average over N training batches (this
        epoch's order, no mixup), averaged across processes (:mod:`common.engine.precise_bn`)."""
        set_loader_epoch(self.train_loader, self.epoch, self.config.seed)
        # Multigrid: precise statistics of the plain BN layers, then split again (PySlowFast: of the split BNs).
        plain = self.multigrid.plain_batchnorm(self.model) if self.multigrid else contextlib.nullcontext()
        with plain:
            used = update_bn_stats(self.model, clip_inputs(self.train_loader, self.preprocess, self.device),
                                   self.config.precise_bn_batches)
        self.logger.info(f"precise BN: running statistics recomputed on {used} training batches per process")

    def _validate(self) -> bool:
        metrics = validate(self.forward_model, self.val_loader, self.preprocess, self.loss_fn, self.accuracy_fn,
                           self.device, self.amp_dtype, show_progress=not self.config.no_progress)
        self.last_validation = metrics
        self.logger.scalars({f"val/{k}": v for k, v in metrics.items()}, self.step)
        value = metrics.get(self.config.best_metric)
        if value is None:
            raise KeyError(f"--best-metric {self.config.best_metric!r} is not among the validation metrics "
                           f"{sorted(metrics)}")
        is_best = self.best_metric is None or value > self.best_metric
        if is_best:
            self.best_metric = value
        summary = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        self.logger.info(f"validation after epoch {self.epoch + 1}: {summary} (best {self.best_metric:.4g})")
        return is_best

    def _train_epoch(self) -> str:
        """Train the rest of ``self.epoch``; returns ``epoch_done``, ``max_steps`` or ``interrupted``."""
        config, loader = self.config, self.train_loader
        total = batches_per_epoch(loader, self.epoch, config.seed)
        self.bad_samples.start_epoch(self.epoch, loader, total, self.info.world_size)
        to_discard = set_loader_epoch(loader, self.epoch, config.seed, skip_batches=self.batches_done)
        iterator = iter(loader)
        for _ in range(to_discard):  # the sampler cannot skip: consume the batches already trained on
            next(iterator)
        if self._pending_rng is not None:
            restore_rng_state(self._pending_rng)
            self._pending_rng = None
        self.model.train()
        window = _Window(self.device)
        self._first_bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
        progress = self._progress
        progress.total = config.epochs * total  # re-estimated each epoch (multigrid changes the epoch length)
        progress.n = self.epoch * total + self.batches_done
        progress.set_description(f"training (epoch {self.epoch + 1}/{config.epochs})")
        accum = config.accum_steps
        tick = time.perf_counter()
        for batch_index in range(self.batches_done, total):
            try:
                batch = next(iterator)
            except Exception:
                if self.signals.signum is None:
                    raise
                # Ctrl-C also reached the loader workers; the state is still that of the last optimiser step.
                return self._interrupted()
            data_time = time.perf_counter() - tick
            self.bad_samples.add(batch)
            group_start = batch_index - batch_index % accum
            group_size = min(accum, total - group_start)
            is_step = batch_index + 1 == group_start + group_size
            clip = batch["clip"].to(self.device, non_blocking=True)
            labels = move_to_device(batch["label"], self.device)
            inputs, targets = self.preprocess(clip, labels, True)
            if config.channels_last and inputs.dim() == 5:
                inputs = inputs.contiguous(memory_format=torch.channels_last_3d)
            sync = contextlib.nullcontext() if is_step or not self.info.distributed else self.ddp_model.no_sync()
            with sync:
                with autocast_context(self.device, self.amp_dtype):
                    logits = self.forward_model(inputs)
                    loss = self.loss_fn(logits, targets)
                self.scaler.scale(loss / group_size).backward()
            loss = loss.detach()
            self._first_bad_step = torch.where((self._first_bad_step < 0) & ~torch.isfinite(loss),
                                               self.step, self._first_bad_step)
            with torch.no_grad():
                window.add_step(loss, self.accuracy_fn(logits, labels), clip.shape[0], data_time)
            self._run_batches += 1
            if is_step:
                # Position of the group's first batch: the lr PySlowFast sets at the start of an iteration.
                lr = self.schedule.step(self.optimizer, self.epoch, group_start, total)
                if config.grad_clip is not None:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.batches_done = batch_index + 1
                if self.step % config.log_every == 0:
                    self._raise_if_non_finite()
                    self._log_window(window, lr, batch_index + 1, total)
                    window = _Window(self.device)
                if self.signals.requested(self.info.distributed, self.device):
                    return self._interrupted()
                if config.max_steps is not None and self.step >= config.max_steps:
                    return "max_steps"
            progress.update(1)
            tick = time.perf_counter()
        self._raise_if_non_finite()
        self.bad_samples.end_epoch()
        if window.batches:
            self._log_window(window, self.schedule.last_lr, total, total)
        return "epoch_done"

    def _interrupted(self) -> str:
        self.logger.info(f"received {self.signals.name()}: saving a checkpoint at step {self.step}")
        return "interrupted"

    def _log_window(self, window: "_Window", lr: float, batches_done: int, total: int) -> None:
        """TensorBoard scalars and an MMAction2-style line in log.txt and on stdout, with the whole run's ETA."""
        values = window.timed_summary(self.info.world_size)
        values["lr"] = lr
        if self.device.type == "cuda":
            values["gpu_memory_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
            memory = f"memory {values['gpu_memory_gib'] * 1024:.0f} MiB"
        else:  # peak resident memory of this process (Linux reports KiB)
            memory = f"memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (RSS)"
        self.logger.scalars({f"train/{k}": v for k, v in values.items()}, self.step)
        left = (self.config.epochs - self.epoch) * total - batches_done
        eta = (time.perf_counter() - self._run_start) / max(self._run_batches, 1) * max(left, 0)
        accuracy = "".join(f"  {k} {v:.2f}" for k, v in values.items() if k.startswith("top"))
        self.logger.info(f"epoch [{self.epoch + 1}][{batches_done}/{total}]  lr {lr:.3e}  "
                         f"eta {datetime.timedelta(seconds=round(eta))}  time {values['step_time']:.3f}  "
                         f"data_time {values['data_time']:.3f}  {memory}  loss {values['loss']:.4f}{accuracy}")
        self._progress.set_postfix(loss=f"{values['loss']:.4f}", lr=f"{lr:.3g}",
                                   eta=str(datetime.timedelta(seconds=round(eta))))


class _Window(MetricSums):
    """Loss / accuracy sums since the last log line, plus data time and throughput."""

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self.batches, self.data_time, self.start = 0, 0.0, time.perf_counter()

    def add_step(self, loss: torch.Tensor, correct: dict[str, torch.Tensor], samples: int, data_time: float) -> None:
        self.add(loss, correct, samples)
        self.batches += 1
        self.data_time += data_time

    def timed_summary(self, world_size: int) -> dict[str, float]:
        values = self.summary()
        elapsed = time.perf_counter() - self.start
        values["data_time"] = self.data_time / max(self.batches, 1)
        values["step_time"] = elapsed / max(self.batches, 1)
        values["clips_per_second"] = self.samples * world_size / max(elapsed, 1e-9)
        return values
