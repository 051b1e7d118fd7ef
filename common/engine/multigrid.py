"""Multigrid training (Wu et al., "A Multigrid Method for Efficiently Training Video Models", CVPR 2020), with
the schedule arithmetic of PySlowFast's July-2020 implementation.

Multigrid trains on cheaper clip shapes for most of the run and compensates with bigger batches, so that every
iteration costs about the same and the run covers more epochs (``epoch_factor``, 1.5) in fewer iterations.

* **Long cycle** (``--multigrid-long``): the run is cut into phases; every lr stage of the base schedule visits the
  four shapes ``(batch x8, T/4, S/sqrt2)``, ``(x4, T/2, S/sqrt2)``, ``(x2, T/2, S)``, ``(x1, T, S)``, with an epoch
  share proportional to its (mean) batch factor, and a final fine-tuning phase at the base shape. The lr of a phase
  is ``base_lr * 0.1**stage * batch_factor`` (linear scaling); the fine-tuning phase spends its first half at the
  last stage's lr and its second half one stage lower. Steps, relative lrs and the epoch count are recomputed from
  the base schedule (:func:`long_cycle_phases`, :func:`multigrid_plan`); a linear warm-up still applies on top.
* **Short cycle** (``--multigrid-short``): inside each phase, iterations cycle through crops ``0.5`` and
  ``1/sqrt2`` of the *default* crop and the phase's own crop, with batches scaled by the pixel ratio to the phase's
  crop (:mod:`common.data.short_cycle`). PySlowFast scales the short crops from the default crop even inside the
  long cycle's small-crop phases (SlowFast#429); we keep that choice. Alone, it only stretches the steps and the
  epoch count by ``epoch_factor``.
* **BatchNorm**: BN statistics stay on ``bn_base_size`` (8) clips: above it per process, sub-batch BN; below it,
  BN synchronised over groups of processes (:mod:`common.engine.multigrid_bn`). Checkpoints keep plain BN keys.

The reference's schedule bug (spec efficient_slowfast.md quirk Q4): when the base schedule's last lr step lies at
or beyond the epoch count, the fine-tuning phase gets a negative length, the phase ends stop increasing and the run
ends before the later phases. By default the steps at or beyond the epoch count are dropped first (they never
take effect without multigrid either); ``--multigrid-reference-steps-bug`` reproduces the reference.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from common.engine.schedules import LRSchedule, Policy

LONG_CYCLE_FACTORS = ((0.25, 0.5 ** 0.5), (0.5, 0.5 ** 0.5), (0.5, 1.0), (1.0, 1.0))  # (frames, crop) factors
SHORT_CYCLE_FACTORS = (0.5, 0.5 ** 0.5)  # crop factors of the default crop; the third short shape is the phase's


class MultigridError(ValueError):
    """A configuration multigrid cannot train (the message says why and what to change)."""


@dataclass(frozen=True)
class Phase:
    """One long-cycle phase: lr ``stage`` (``0.1**stage``), the clip shape, and its cumulative end epoch."""

    stage: int
    batch_factor: int
    frames: int
    crop: int
    end_epoch: int


@dataclass(frozen=True)
class ClipShape:
    """What the training loader produces in one phase: global batch, frames, sampling rate and crop.

    ``max_sampling_rate`` > ``sampling_rate`` when a phase uses fewer frames than the default: PySlowFast then draws
    a rate in ``[sampling_rate, max_sampling_rate]`` per clip so that some clips cover the default time span.
    """

    batch_size: int
    frames: int
    sampling_rate: int
    max_sampling_rate: int
    crop: int
    default_crop: int


@dataclass
class MultigridPlan:
    """The recomputed schedule: lr ``steps`` with relative ``lrs`` (batch factor included), the ``epochs``, and
    the long-cycle ``phases`` (empty with the short cycle alone)."""

    steps: list[int]
    lrs: list[float]
    epochs: int
    phases: list[Phase]
    default_batch: int
    default_frames: int
    default_crop: int
    sampling_rate: int
    short_cycle: bool

    def phase_index(self, epoch: int) -> int:
        """The phase that trains ``epoch`` (0-based); ``-1`` without a long cycle."""
        for index, phase in enumerate(self.phases):
            if epoch < phase.end_epoch:
                return index
        return len(self.phases) - 1

    def shape(self, epoch: int) -> ClipShape:
        """The loader's clip shape in ``epoch``."""
        index = self.phase_index(epoch)
        if index < 0:
            return ClipShape(self.default_batch, self.default_frames, self.sampling_rate, self.sampling_rate,
                             self.default_crop, self.default_crop)
        phase = self.phases[index]
        max_rate = self.sampling_rate * (self.default_frames // phase.frames)
        return ClipShape(phase.batch_factor * self.default_batch, phase.frames, self.sampling_rate, max_rate,
                         phase.crop, self.default_crop)

    def policy(self, base_lr: float) -> Policy:
        return relative_lr_policy(base_lr, self.steps, self.lrs, self.epochs)

    def lr_schedule(self, base_lr: float, warmup_epochs: float = 0.0, warmup_start_lr: float = 0.0) -> LRSchedule:
        """PySlowFast's per-iteration schedule: linear warm-up towards the (boosted) lr at the warm-up's end."""
        return LRSchedule(self.policy(base_lr), base_lr, warmup_epochs, warmup_start_lr, "linear", per_step=True)

    def describe(self) -> list[str]:
        """One log line per phase (and the lr steps)."""
        lines = [f"multigrid: {self.epochs} epochs, lr steps {self.steps}, relative lrs "
                 f"{[float(f'{lr:.6g}') for lr in self.lrs]}"]
        start = 0
        for phase in self.phases:
            lines.append(f"  epochs {start:4d}-{phase.end_epoch:4d}: stage {phase.stage}, batch x{phase.batch_factor}"
                         f", {phase.frames} frames, crop {phase.crop}")
            start = phase.end_epoch
        return lines


def relative_lr_policy(base_lr: float, steps: Sequence[float], lrs: Sequence[float], epochs: float) -> Policy:
    """``base_lr * lrs[k]`` with PySlowFast's index rule: ``k`` = (first ``i`` with ``e < (steps + [epochs])[i]``)
    - 1. Equal to "the last step <= e" for increasing steps; kept literally so that the reference's non-monotonic
    steps (quirk Q4) give the reference's lrs."""
    bounds = [*steps, epochs]

    def policy(epoch: float) -> float:
        index = len(bounds) - 1
        for position, bound in enumerate(bounds):
            if epoch < bound:
                index = position
                break
        return base_lr * lrs[index - 1]

    return policy


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def long_cycle_phases(steps: Sequence[int], epochs: int, frames: int, crop: int, short_cycle: bool,
                      epoch_factor: float = 1.5, reference_steps_bug: bool = False) -> list[Phase]:
    """The long cycle's phases for a base schedule with lr ``steps`` (starting at 0) over ``epochs`` epochs.

    Every shape's batch factor keeps the clip volume ``frames * crop**2``; with the short cycle, a shape's epoch
    share uses the mean batch factor of its three short-cycle shapes. Phase lengths are first computed in base
    epochs (the fine-tuning phase saving as many iterations as the rest), then scaled so that the total is
    ``epochs * epoch_factor``, and the cumulative ends rounded (Python ``round``).
    """
    steps = [int(step) for step in steps]
    if not steps or steps[0] != 0:
        raise MultigridError(f"multigrid needs lr steps starting at 0, got {steps}")
    if not reference_steps_bug:
        steps = [step for step in steps if step < epochs]
    if len(steps) < 2:
        raise MultigridError(f"the long cycle needs at least one lr step inside the {epochs} epochs (got steps "
                             f"{steps}): its phases are laid out per lr stage")
    volume = float(frames * crop ** 2)
    shapes_per_cycle: list[list[tuple[int, int, float]]] = []
    for frame_factor, crop_factor in LONG_CYCLE_FACTORS:
        base_frames = int(round(frames * frame_factor))
        base_crop = int(round(crop * crop_factor))
        sizes: list[tuple[int, float]] = [(base_frames, base_crop)]
        if short_cycle:
            sizes = [(base_frames, crop * factor) for factor in SHORT_CYCLE_FACTORS] + sizes
        shapes_per_cycle.append([(int(round(volume / (t * s * s))), t, s) for t, s in sizes])
    mean_batch = [_mean([shape[0] for shape in shapes]) for shapes in shapes_per_cycle]
    total_mean_batch = sum(mean_batch)

    raw: list[tuple[int, int, float]] = []  # (stage, cycle index, length in base epochs)
    iterations = 0.0
    for stage in range(len(steps) - 1):
        stage_epochs = steps[stage + 1] - steps[stage]
        for cycle, batch in enumerate(mean_batch):
            length = stage_epochs * batch / total_mean_batch
            iterations += length / batch
            raw.append((stage, cycle, length))
    saving = steps[-1] / iterations
    fine_tune = (epochs - steps[-1]) / saving * mean_batch[-1]
    raw.append((len(steps) - 1, len(mean_batch) - 1, fine_tune))

    scale = epochs * epoch_factor / sum(entry[2] for entry in raw)
    phases, cumulative = [], 0.0
    for stage, cycle, length in raw:
        cumulative += length * scale
        batch, t, s = shapes_per_cycle[cycle][-1]
        phases.append(Phase(stage, batch, t, int(s), int(round(cumulative))))
    if not reference_steps_bug:
        ends = [phase.end_epoch for phase in phases]
        assert ends == sorted(ends), ends  # guaranteed once the steps lie inside the run
    return phases


def multigrid_plan(steps: Sequence[int], epochs: int, batch_size: int, frames: int, crop: int, sampling_rate: int,
                   long_cycle: bool, short_cycle: bool, epoch_factor: float = 1.5, gamma: float = 0.1,
                   relative_lrs: Sequence[float] | None = None, reference_steps_bug: bool = False) -> MultigridPlan:
    """Recompute lr steps, relative lrs and the epoch count for multigrid (as PySlowFast's ``init_multigrid``).

    Args:
        steps: the base lr steps, starting at 0 (PySlowFast ``SOLVER.STEPS``).
        epochs: the base epoch count (``SOLVER.MAX_EPOCH``).
        batch_size, frames, crop, sampling_rate: the default (global) batch and clip shape.
        relative_lrs: the base relative lrs, used by the short cycle alone (the long cycle uses ``gamma**stage``).
    """
    if not (long_cycle or short_cycle):
        raise MultigridError("multigrid_plan needs the long cycle, the short cycle or both")
    if long_cycle:
        phases = long_cycle_phases(steps, epochs, frames, crop, short_cycle, epoch_factor, reference_steps_bug)
        new_steps = [0] + [phase.end_epoch for phase in phases]
        new_steps[-1] = (new_steps[-2] + new_steps[-1]) // 2  # fine-tuning: two halves, two lrs
        lrs = [gamma ** phase.stage * phase.batch_factor for phase in phases]
        lrs = lrs[:-1] + [lrs[-2], lrs[-1]]
        new_epochs = phases[-1].end_epoch
    else:
        phases = []
        new_steps = [int(step * epoch_factor) for step in steps]
        lrs = list(relative_lrs) if relative_lrs is not None else [gamma ** k for k in range(len(steps))]
        new_epochs = int(epochs * epoch_factor)
    return MultigridPlan(new_steps, lrs, new_epochs, phases, batch_size, frames, crop, sampling_rate, short_cycle)


def multigrid_clip_sizes(frames: int, crop: int, long_cycle: bool, short_cycle: bool) -> tuple[list[int], list[int]]:
    """Every frame count and crop a multigrid run feeds the model (for a recipe's capability check, e.g. patch or
    tubelet divisibility)."""
    frame_counts, crops = {frames}, {crop}
    if long_cycle:
        frame_counts |= {int(round(frames * t)) for t, _ in LONG_CYCLE_FACTORS}
        crops |= {int(round(crop * s)) for _, s in LONG_CYCLE_FACTORS}
    if short_cycle:
        crops |= {int(round(crop * factor)) for factor in SHORT_CYCLE_FACTORS}
    return sorted(frame_counts), sorted(crops)


def short_cycle_crops(shape: ClipShape) -> tuple[int, int, int]:
    """The three crops a short cycle visits: ``0.5`` and ``1/sqrt2`` of the default crop, then the phase's crop."""
    small, middle = (int(round(factor * shape.default_crop)) for factor in SHORT_CYCLE_FACTORS)
    return small, middle, shape.crop


def short_cycle_batch_factors(shape: ClipShape) -> tuple[int, int, int]:
    """Batch multipliers of the three short-cycle iterations: ``round((phase crop / short crop)**2)`` with the
    unrounded short crop, as PySlowFast (e.g. 2, 1, 1 in a phase whose crop is already ``S/sqrt2``)."""
    factors = [int(round((shape.crop / (factor * shape.default_crop)) ** 2)) for factor in SHORT_CYCLE_FACTORS]
    return factors[0], factors[1], 1


def scaled_jitter(min_scale: int, max_scale: int, crop: int, default_crop: int) -> tuple[int, int]:
    """PySlowFast's training scale jitter for a multigrid crop: the lower short-side bound shrinks with the crop
    (``round(min_scale * crop / default_crop)``), the upper one stays (a wider view, i.e. a larger sampling grid)."""
    return int(round(min_scale * crop / default_crop)), max_scale


def add_multigrid_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--multigrid-long``, ``--multigrid-short`` and their parameters (preset keys: ``multigrid_long``, ...)."""
    group = parser.add_argument_group("multigrid")
    group.add_argument("--multigrid-long", action=argparse.BooleanOptionalAction, default=False,
                       help="long-cycle multigrid: phases of smaller clips with bigger batches (Wu et al. 2020)")
    group.add_argument("--multigrid-short", action=argparse.BooleanOptionalAction, default=False,
                       help="short-cycle multigrid: per-iteration crops 0.5 / 0.707 / 1 of the default crop")
    group.add_argument("--multigrid-epoch-factor", type=float, default=1.5,
                       help="multigrid trains this many times the configured epochs (PySlowFast EPOCH_FACTOR)")
    group.add_argument("--multigrid-bn-base-size", type=int, default=8,
                       help="clips per BN statistics group: sub-batch BN above, synchronised BN below")
    group.add_argument("--multigrid-eval-freq", type=int, default=3,
                       help="long cycle: validate (and precise BN) this many times per phase, the last at its end "
                            "(PySlowFast MULTIGRID.EVAL_FREQ); 0: every --eval-every epochs")
    group.add_argument("--multigrid-reference-steps-bug", action="store_true",
                       help="reproduce PySlowFast's schedule when the last lr step is not before the epoch count "
                            "(non-monotonic steps, run cut short); default: such steps are dropped")
    return parser


def check_capability(long_cycle: bool, short_cycle: bool, variable_frames: bool, variable_crop: bool,
                     model_name: str, reason: str = "") -> None:
    """Refuse multigrid for a model that cannot take the clip sizes it would produce."""
    if long_cycle and not (variable_frames and variable_crop):
        raise MultigridError(
            f"--multigrid-long changes the number of frames and the crop between phases, which {model_name} "
            f"cannot take{': ' + reason if reason else ''}. Train without it"
            f"{' or use --multigrid-short only' if variable_crop else ''}")
    if short_cycle and not variable_crop:
        raise MultigridError(f"--multigrid-short changes the crop size every iteration, which {model_name} cannot "
                             f"take{': ' + reason if reason else ''}. Train without it")


def save_schedule_png(plan: MultigridPlan, base_lr: float, path: str | Path, warmup_epochs: float = 0.0,
                      warmup_start_lr: float = 0.0, points_per_epoch: int = 4) -> Path:
    """A picture of the schedule per epoch: lr (with warm-up), global batch, frames and crop of the long cycle."""
    from common.plots import save_curve_panels_png

    schedule = plan.lr_schedule(base_lr, warmup_epochs, warmup_start_lr)
    total = plan.epochs * points_per_epoch
    lr = [(i / points_per_epoch, schedule.lr_at(i / points_per_epoch)) for i in range(total + 1)]
    shapes = [plan.shape(epoch) for epoch in range(plan.epochs)]

    def steps(value: Any) -> list[tuple[float, float]]:  # constant over each epoch: drawn as steps
        return [(epoch + end, value(shape)) for epoch, shape in enumerate(shapes) for end in (0, 1)]

    panels: dict[str, Any] = {"learning rate": {"lr": lr}}
    panels["global batch (long cycle)"] = {"batch": steps(lambda s: s.batch_size)}
    panels["frames"] = {"frames": steps(lambda s: s.frames)}
    crops = {"crop": steps(lambda s: s.crop)}
    if plan.short_cycle:
        for name, index in (("short crop 1", 0), ("short crop 2", 1)):
            crops[name] = steps(lambda s, i=index: short_cycle_crops(s)[i])
    panels["crop"] = crops
    cycles = " + ".join(name for name, on in (("long", bool(plan.phases)), ("short", plan.short_cycle)) if on)
    return save_curve_panels_png(panels, path, title=f"multigrid schedule ({cycles} cycle, {plan.epochs} epochs)",
                                 xlabel="epoch", log_y=("learning rate",))


def plan_from_config(cfg: argparse.Namespace, steps: Sequence[int], relative_lrs: Sequence[float] | None = None
                     ) -> MultigridPlan:
    """:func:`multigrid_plan` for the shared flags (``epochs``, ``batch_size``, ``num_frames``, ``crop_size``,
    ``sampling_rate``) and the multigrid flags of :func:`add_multigrid_args`."""
    return multigrid_plan(steps, cfg.epochs, cfg.batch_size, cfg.num_frames, cfg.crop_size,
                          getattr(cfg, "sampling_rate", 1) or 1, cfg.multigrid_long, cfg.multigrid_short,
                          cfg.multigrid_epoch_factor, relative_lrs=relative_lrs,
                          reference_steps_bug=cfg.multigrid_reference_steps_bug)



def main(argv: Sequence[str] | None = None) -> None:
    """Print a multigrid schedule (and draw it with ``--out``) without training."""
    parser = argparse.ArgumentParser(description="print / draw the multigrid schedule of a base step schedule")
    parser.add_argument("--steps", type=int, nargs="+", required=True, help="base lr steps, starting at 0")
    parser.add_argument("--epochs", type=int, required=True, help="base epoch count")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--sampling-rate", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--warmup-epochs", type=float, default=0.0)
    parser.add_argument("--warmup-start-lr", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=None, help="write the schedule PNG here")
    add_multigrid_args(parser)
    cfg = parser.parse_args(argv)
    if not (cfg.multigrid_long or cfg.multigrid_short):
        parser.error("give --multigrid-long and/or --multigrid-short")
    plan = plan_from_config(cfg, cfg.steps)
    print("\n".join(plan.describe()))
    if cfg.out is not None:
        print(save_schedule_png(plan, cfg.lr, cfg.out, cfg.warmup_epochs, cfg.warmup_start_lr))


if __name__ == "__main__":
    main()
