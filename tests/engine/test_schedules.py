"""LR schedules against values computed by hand from the papers' code (specs masnet.md 2.4, motionformer.md 5.2)."""
from __future__ import annotations

import math

import pytest
import torch

from common.engine.schedules import (LRSchedule, constant, cosine, mas_lr, multistep, step_factors,
                                     steps_with_relative_lrs)


def test_mas_lr_matches_masnet_table():
    policy = mas_lr(0.01, [30, 40, 50, 60])
    expected = {0: 1e-2, 29: 1e-2, 30: 1e-3, 39: 1e-3, 40: 1e-4, 50: 5e-5, 59: 5e-5, 60: 1e-5, 69: 1e-5}
    for epoch, lr in expected.items():
        assert policy(epoch) == pytest.approx(lr, rel=1e-12), epoch
    # v2_16 preset (lr 0.005): 5e-3, 5e-4, 5e-5, 2.5e-5, 5e-6.
    assert [mas_lr(0.005, [30, 40, 50, 60])(e) for e in (0, 30, 40, 50, 60)] == pytest.approx(
        [5e-3, 5e-4, 5e-5, 2.5e-5, 5e-6])
    # Not exactly four steps: MAS_lr falls back to step_lr (k400_8 uses steps 65/75/90).
    assert [mas_lr(0.01, [65, 75, 90])(e) for e in (64, 65, 75, 90)] == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])


def test_step_and_multistep():
    assert [multistep(1.0, [2, 4], gamma=0.5)(e) for e in (0, 1.99, 2, 4)] == [1.0, 1.0, 0.5, 0.25]
    assert step_factors(2.0, [1, 3], [0.1, 0.3])(3) == pytest.approx(0.06)
    with pytest.raises(ValueError, match="increasing"):
        step_factors(1.0, [3, 1], [0.1, 0.1])
    with pytest.raises(ValueError, match="factors"):
        step_factors(1.0, [1], [0.1, 0.1])


def test_cosine_endpoints_and_midpoint():
    policy = cosine(0.1, total_epochs=10, end_lr=0.001)
    assert policy(0) == pytest.approx(0.1)
    assert policy(5) == pytest.approx(0.001 + 0.099 * 0.5)
    assert policy(10) == pytest.approx(0.001)
    assert cosine(0.01, 70)(35) == pytest.approx(0.5 * 0.01 * (1 + math.cos(math.pi * 35 / 70)))


def test_steps_with_relative_lrs_motionformer():
    policy = steps_with_relative_lrs(1e-4, [0, 20, 30], [1, 0.1, 0.01])
    assert [policy(e) for e in (0, 19.99, 20, 29.5, 30, 34.9)] == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6])
    with pytest.raises(ValueError, match="start at 0"):
        steps_with_relative_lrs(1.0, [5, 10], [1, 0.1])


def test_pyslowfast_linear_warmup_per_step():
    # lr = start + (policy(W) - start) * e / W, with fractional epochs.
    schedule = LRSchedule(steps_with_relative_lrs(0.1, [0, 10], [1, 0.1]), 0.1, warmup_epochs=2,
                          warmup_start_lr=0.01)
    assert schedule.lr_at(0) == pytest.approx(0.01)
    assert schedule.lr_at(0.5) == pytest.approx(0.01 + 0.09 * 0.25)
    assert schedule.lr_at(1.5) == pytest.approx(0.01 + 0.09 * 0.75)
    assert schedule.lr_at(2) == pytest.approx(0.1)
    assert schedule.lr_at(10) == pytest.approx(0.01)


def test_tsm_warmup_per_epoch_and_group_multipliers():
    # TSM / MAS-Net: lr * (e + 1) / W for integer epochs e < W, evaluated once per epoch.
    schedule = LRSchedule(mas_lr(0.01, [30, 40, 50, 60]), 0.01, warmup_epochs=4, warmup_rule="tsm",
                          per_step=False)
    assert [schedule.lr_at(e) for e in (0, 0.7, 1, 3.9, 4, 31)] == pytest.approx(
        [0.0025, 0.0025, 0.005, 0.01, 0.01, 0.001])
    weight, bias = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([{"params": [weight], "lr_mult": 1.0}, {"params": [bias], "lr_mult": 2.0}], lr=1.0)
    assert schedule.step(optimizer, epoch=1, iteration=5, iters_per_epoch=10) == pytest.approx(0.005)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.005, 0.01])
    restored = LRSchedule(constant(0.0), 0.0)
    restored.load_state_dict(schedule.state_dict())
    assert restored.last_epoch == pytest.approx(1.5) and restored.last_lr == pytest.approx(0.005)
    with pytest.raises(ValueError, match="warmup_rule"):
        LRSchedule(constant(1.0), 1.0, warmup_rule="exp")
