"""Learning-rate schedules used by the papers, as one object the trainer calls every optimiser step.

A schedule is a *policy* (``epoch -> lr``, epoch possibly fractional) wrapped by :class:`LRSchedule`, which adds a
warm-up and writes ``lr * group["lr_mult"]`` into every parameter group. Policies:

* :func:`multistep`: ``lr * gamma^(number of milestones <= e)`` (TSM / MAS-Net ``step_lr``).
* :func:`step_factors`: step with a separate decay factor per milestone (cumulative product); MAS-Net's
  ``MAS_lr`` is :func:`mas_lr`, i.e. factors (0.1, 0.1, 0.5, 0.2).
* :func:`cosine`: ``end + (lr - end) * (1 + cos(pi * e / epochs)) / 2`` (MAS-Net ``cos_lr``, PySlowFast ``cosine``).
* :func:`steps_with_relative_lrs`: PySlowFast's ``lr * LRS[k]`` with ``k`` the last index where ``STEPS[k] <= e``.

Warm-up rules (``LRSchedule(warmup_rule=...)``):

* ``"linear"`` (PySlowFast): for ``e < W``, ``lr = start + (policy(W) - start) * e / W``.
* ``"tsm"`` (TSM / MAS-Net ``adjust_learning_rate``): for integer epoch ``e < W``, ``lr = base_lr * (e + 1) / W``.

``per_step=False`` evaluates the policy at the integer epoch only (the lr changes at epoch starts, as in the TSM
family); ``per_step=True`` uses ``epoch + iteration / iters_per_epoch`` (PySlowFast).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

Policy = Callable[[float], float]


def _check_increasing(milestones: Sequence[float], name: str) -> None:
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {list(milestones)}")


def multistep(base_lr: float, milestones: Sequence[float], gamma: float = 0.1) -> Policy:
    """``base_lr * gamma^(number of milestones m with e >= m)``."""
    return step_factors(base_lr, milestones, [gamma] * len(milestones))


def step_factors(base_lr: float, milestones: Sequence[float], factors: Sequence[float]) -> Policy:
    """Step schedule where passing milestone ``i`` multiplies the lr by ``factors[i]`` (cumulatively)."""
    if len(milestones) != len(factors):
        raise ValueError(f"{len(milestones)} milestones but {len(factors)} decay factors")
    _check_increasing(milestones, "milestones")
    milestones, factors = list(milestones), list(factors)

    def policy(epoch: float) -> float:
        lr = base_lr
        for milestone, factor in zip(milestones, factors):
            if epoch >= milestone:
                lr *= factor
        return lr

    return policy


def mas_lr(base_lr: float, steps: Sequence[float]) -> Policy:
    """MAS-Net's ``MAS_lr``: with exactly four steps the factors are 0.1, 0.1, 0.5, 0.2; otherwise ``step_lr``.

    With steps [30, 40, 50, 60] the lr multiplier is 1, 0.1, 0.01, 0.005, 0.001 (spec masnet.md section 2.4).
    """
    if len(steps) == 4:
        return step_factors(base_lr, steps, (0.1, 0.1, 0.5, 0.2))
    return multistep(base_lr, steps, 0.1)


def cosine(base_lr: float, total_epochs: float, end_lr: float = 0.0) -> Policy:
    """Half-cosine decay from ``base_lr`` at epoch 0 to ``end_lr`` at ``total_epochs``."""
    if total_epochs <= 0:
        raise ValueError(f"cosine schedule needs total_epochs > 0, got {total_epochs}")

    def policy(epoch: float) -> float:
        return end_lr + (base_lr - end_lr) * (math.cos(math.pi * epoch / total_epochs) + 1.0) * 0.5

    return policy


def steps_with_relative_lrs(base_lr: float, steps: Sequence[float], relative_lrs: Sequence[float]) -> Policy:
    """PySlowFast ``steps_with_relative_lrs``: ``base_lr * relative_lrs[k]``, ``k`` = last index with ``steps[k] <= e``.

    ``steps[0]`` must be 0 (as in every PySlowFast config, e.g. Motionformer ``STEPS [0, 20, 30]``,
    ``LRS [1, 0.1, 0.01]``).
    """
    if len(steps) != len(relative_lrs):
        raise ValueError(f"{len(steps)} steps but {len(relative_lrs)} relative lrs")
    if not steps or steps[0] != 0:
        raise ValueError(f"steps must start at 0 (PySlowFast convention), got {list(steps)}")
    _check_increasing(steps, "steps")
    steps, relative_lrs = list(steps), list(relative_lrs)

    def policy(epoch: float) -> float:
        index = max(i for i, step in enumerate(steps) if step <= max(epoch, 0.0))
        return base_lr * relative_lrs[index]

    return policy


def constant(base_lr: float) -> Policy:
    return lambda epoch: base_lr


class LRSchedule:
    """Warm-up plus policy, applied to an optimiser's parameter groups at every optimiser step.

    Args:
        policy: ``epoch -> lr`` (one of the functions above).
        base_lr: the configured lr (the ``"tsm"`` warm-up ramps towards it).
        warmup_epochs: warm-up length in epochs (0 = none).
        warmup_start_lr: lr at epoch 0 for the ``"linear"`` rule.
        warmup_rule: ``"linear"`` (PySlowFast) or ``"tsm"`` (TSM / MAS-Net); see the module docstring.
        per_step: evaluate at fractional epochs (True) or at integer epochs (False).

    Each group's lr is ``lr * group.get("lr_mult", 1.0)`` (see :mod:`common.engine.param_groups`).
    The schedule is a pure function of the position, so resuming only needs the position it last applied, which
    :meth:`state_dict` records.
    """

    def __init__(self, policy: Policy, base_lr: float, warmup_epochs: float = 0.0, warmup_start_lr: float = 0.0,
                 warmup_rule: str = "linear", per_step: bool = True) -> None:
        if warmup_rule not in ("linear", "tsm"):
            raise ValueError(f"warmup_rule must be 'linear' or 'tsm', got {warmup_rule!r}")
        self.policy = policy
        self.base_lr = base_lr
        self.warmup_epochs = warmup_epochs
        self.warmup_start_lr = warmup_start_lr
        self.warmup_rule = warmup_rule
        self.per_step = per_step
        self.last_epoch = 0.0
        self.last_lr = self.lr_at(0.0)

    def lr_at(self, epoch: float) -> float:
        """The lr at (fractional) ``epoch``; integer epochs are used when ``per_step`` is False."""
        if not self.per_step:
            epoch = float(math.floor(epoch))
        if epoch < self.warmup_epochs:
            if self.warmup_rule == "tsm":
                return self.base_lr * (math.floor(epoch) + 1) / self.warmup_epochs
            end = self.policy(self.warmup_epochs)
            return self.warmup_start_lr + (end - self.warmup_start_lr) * epoch / self.warmup_epochs
        return self.policy(epoch)

    def step(self, optimizer: torch.optim.Optimizer, epoch: int, iteration: int = 0,
             iters_per_epoch: int = 1) -> float:
        """Set every group's lr for position ``epoch + iteration / iters_per_epoch``; returns the base lr."""
        self.last_epoch = epoch + iteration / max(iters_per_epoch, 1)
        self.last_lr = self.lr_at(self.last_epoch)
        for group in optimizer.param_groups:
            group["lr"] = self.last_lr * group.get("lr_mult", 1.0)
        return self.last_lr

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "last_lr": self.last_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = float(state["last_epoch"])
        self.last_lr = float(state["last_lr"])
