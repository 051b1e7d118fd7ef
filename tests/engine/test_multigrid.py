"""Multigrid schedule arithmetic against spec efficient_slowfast.md section 2.4 and quirk Q4 (computed here by the
implementation, compared with the spec's numbers), the short-cycle shapes, flags, refusal and the schedule PNG."""
from __future__ import annotations

import argparse

import pytest
from PIL import Image

from common.engine.multigrid import (MultigridError, add_multigrid_args, check_capability, multigrid_plan,
                                     plan_from_config, relative_lr_policy, save_schedule_png,
                                     short_cycle_batch_factors, short_cycle_crops)
from common.engine.schedules import steps_with_relative_lrs

# (base steps, MAX_EPOCH, frames, crop) of the spec's configs (tables 2.2 / 2.3, run_dual.sh's MAX_EPOCH 100).
SPEC_CONFIGS = {
    "dual": ([0, 80, 100, 120, 140], 150, 32, 224),
    "dual_max100": ([0, 80, 100, 120, 140], 100, 32, 224),
    "ghostnet": ([0, 30, 50, 60, 145], 100, 16, 112),
    "shufflenet": ([0, 50, 70, 80, 90], 150, 16, 112),
    "mobilenetv2": ([0, 30, 50, 70, 90, 95], 100, 16, 112),
    "jester": ([0, 30, 50, 70, 90, 95], 100, 16, 112),
}
SPEC_EPOCHS = {"dual": 225, "dual_max100": 150, "ghostnet": 150, "shufflenet": 225, "mobilenetv2": 150,
               "jester": 150}


def _reference_plan(name, bug=True):
    steps, epochs, frames, crop = SPEC_CONFIGS[name]
    return multigrid_plan(steps, epochs, 64, frames, crop, 2, long_cycle=True, short_cycle=True,
                          reference_steps_bug=bug)


@pytest.mark.parametrize("name", sorted(SPEC_CONFIGS))
def test_epoch_counts_match_spec_table(name):
    assert _reference_plan(name).epochs == SPEC_EPOCHS[name]
    assert _reference_plan(name, bug=False).epochs == SPEC_EPOCHS[name]


def test_long_cycle_shapes_match_spec_table():
    ghost = _reference_plan("ghostnet")
    assert [(p.batch_factor, p.frames, p.crop) for p in ghost.phases[:4]] == [
        (8, 4, 79), (4, 8, 79), (2, 8, 112), (1, 16, 112)]
    dual = _reference_plan("dual")
    assert sorted({p.crop for p in dual.phases}) == [158, 224]
    assert [(p.batch_factor, p.frames) for p in dual.phases[:4]] == [(8, 8), (4, 16), (2, 16), (1, 32)]
    # Every lr stage visits the four shapes, then one fine-tuning phase at the base shape.
    assert [p.stage for p in dual.phases] == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4 + [4]
    assert (dual.phases[-1].batch_factor, dual.phases[-1].frames, dual.phases[-1].crop) == (1, 32, 224)


def test_relative_lrs_are_batch_factor_times_gamma_power():
    plan = _reference_plan("dual")
    assert plan.lrs[:5] == pytest.approx([8, 4, 2, 1, 0.8])
    assert plan.lrs[-3:] == pytest.approx([0.001, 0.001, 0.0001])  # fine-tuning: last stage's lr, then one lower
    assert plan.steps[-1] == (plan.steps[-2] + plan.phases[-1].end_epoch) // 2
    assert plan.steps == sorted(plan.steps)


@pytest.mark.parametrize("name, tail", [("dual_max100", [170, 160]), ("ghostnet", [172, 161])])
def test_reference_steps_bug_reproduced_by_flag(name, tail):
    plan = _reference_plan(name, bug=True)
    assert plan.steps[-2:] == tail and plan.steps != sorted(plan.steps)  # non-monotonic
    assert max(p.end_epoch for p in plan.phases) > plan.epochs  # later phases are never reached
    fixed = _reference_plan(name, bug=False)
    assert fixed.steps == sorted(fixed.steps) and fixed.phases[-1].end_epoch == fixed.epochs
    assert all(a.end_epoch <= b.end_epoch for a, b in zip(fixed.phases, fixed.phases[1:]))
    assert fixed.lrs[-1] < fixed.lrs[-2]  # the fine-tuning phase exists and lowers the lr


def test_warmup_on_top_of_batch_factor_boost_as_spec():
    dual = _reference_plan("dual").lr_schedule(0.1, warmup_epochs=30, warmup_start_lr=0.01)
    assert dual.lr_at(0) == pytest.approx(0.01)
    assert dual.lr_at(15) == pytest.approx(0.01 + (0.8 - 0.01) / 2)
    assert dual.lr_at(30) == pytest.approx(0.8)  # 8 x 0.1
    ghost = _reference_plan("ghostnet").lr_schedule(0.01, warmup_epochs=34, warmup_start_lr=0.01)
    assert ghost.lr_at(0) == ghost.lr_at(20) == pytest.approx(0.01)  # flat, as the spec says


def test_relative_policy_matches_steps_with_relative_lrs_when_increasing():
    ours = relative_lr_policy(0.1, [0, 10, 20], [1, 0.1, 0.01], 30)
    shared = steps_with_relative_lrs(0.1, [0, 10, 20], [1, 0.1, 0.01])
    for epoch in (0, 5, 9.99, 10, 19.5, 20, 29.9, 35):
        assert ours(epoch) == pytest.approx(shared(epoch))
    buggy = relative_lr_policy(1.0, [0, 10, 30, 20], [1, 2, 3, 4], 25)  # PySlowFast's index rule
    assert [buggy(e) for e in (5, 15, 22, 24)] == [1, 2, 2, 2]


def test_short_cycle_alone_stretches_steps_and_epochs():
    plan = multigrid_plan([0, 30, 40], 50, 16, 8, 112, 8, long_cycle=False, short_cycle=True,
                          relative_lrs=[1, 0.1, 0.01])
    assert (plan.steps, plan.epochs, plan.phases) == ([0, 45, 60], 75, [])
    assert plan.shape(70).batch_size == 16 and plan.shape(70).crop == 112


def test_long_cycle_shapes_per_epoch_and_sampling_rate():
    plan = _reference_plan("shufflenet")
    first, last = plan.shape(0), plan.shape(plan.epochs - 1)
    assert (first.batch_size, first.frames, first.crop) == (8 * 64, 4, 79)
    assert (first.sampling_rate, first.max_sampling_rate) == (2, 8)  # PySlowFast draws in [2, 2 * 16 // 4]
    assert (last.batch_size, last.frames, last.crop, last.max_sampling_rate) == (64, 16, 112, 2)
    boundary = plan.phases[0].end_epoch
    assert plan.phase_index(boundary - 1) == 0 and plan.phase_index(boundary) == 1


def test_short_cycle_crops_scale_from_the_default_crop():
    plan = _reference_plan("dual")
    small_phase, base_phase = plan.shape(0), plan.shape(plan.epochs - 1)
    assert short_cycle_crops(small_phase) == (112, 158, 158)  # not 0.5 x 158: SlowFast#429
    assert short_cycle_batch_factors(small_phase) == (2, 1, 1)
    assert short_cycle_crops(base_phase) == (112, 158, 224)
    assert short_cycle_batch_factors(base_phase) == (4, 2, 1)


def test_long_cycle_needs_a_step_inside_the_run():
    with pytest.raises(MultigridError, match="at least one lr step"):
        multigrid_plan([0, 120], 100, 8, 8, 112, 2, long_cycle=True, short_cycle=False)
    plan = multigrid_plan([0, 60], 100, 8, 8, 112, 2, long_cycle=True, short_cycle=False)  # no short cycle
    assert plan.phases[-1].frames == 8 and plan.epochs == 150


def test_flags_presets_and_plan_from_config():
    parser = add_multigrid_args(argparse.ArgumentParser())
    args = parser.parse_args(["--multigrid-long", "--multigrid-short"])
    assert args.multigrid_long and args.multigrid_short and args.multigrid_epoch_factor == 1.5
    assert not parser.parse_args(["--multigrid-long", "--no-multigrid-long"]).multigrid_long
    vars(args).update(epochs=150, batch_size=64, num_frames=16, crop_size=112, sampling_rate=2)
    assert plan_from_config(args, [0, 50, 70, 80, 90]).epochs == 225


def test_capability_refusal_messages():
    check_capability(True, True, True, True, "x")
    with pytest.raises(MultigridError, match="--multigrid-long.*fixed segment count.*--multigrid-short only"):
        check_capability(True, False, False, True, "masnet_r50", "fixed segment count")
    with pytest.raises(MultigridError, match="--multigrid-short.*position table"):
        check_capability(False, True, False, False, "motionformer", "position table")


def test_schedule_png(tmp_path):
    plan = _reference_plan("dual")
    path = save_schedule_png(plan, 0.1, tmp_path / "multigrid_schedule.png", warmup_epochs=30, warmup_start_lr=0.01)
    with Image.open(path) as image:
        assert image.size[0] > 600 and image.size[1] > 400
