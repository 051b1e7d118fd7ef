"""prepare_multigrid: the entry points' side (refusal by recipe capability, recomputed schedule, schedule PNG,
per-phase datasets from the recipe with PySlowFast's random sampling rate and scaled jitter)."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image

from common.data.samplers import SlowFastClipSampler
from common.data.short_cycle import RandomRateSampler
from common.engine.multigrid import MultigridError, add_multigrid_args
from common.engine.multigrid_loop import prepare_multigrid


class FakeDataset:
    def __init__(self, cfg: argparse.Namespace) -> None:
        self.cfg = cfg
        self.sampler = SlowFastClipSampler(cfg.num_frames, cfg.sampling_rate, target_fps=None)

    def __len__(self) -> int:
        return 16


class Recipe:
    name = "fake"

    def __init__(self, frames: bool = True, crop: bool = True, reason: str = "") -> None:
        self.capability = (frames, crop, reason)

    def multigrid_capability(self, cfg):
        return self.capability

    def schedule(self, cfg):
        from common.engine.schedules import LRSchedule, cosine, multistep

        policy = cosine(cfg.lr, cfg.epochs) if cfg.lr_policy == "cosine" else multistep(cfg.lr, cfg.lr_steps)
        return LRSchedule(policy, cfg.lr)

    def dataset(self, cfg, split):
        assert split == "train"
        return FakeDataset(cfg)


def _cfg(tmp_path, *flags):
    cfg = add_multigrid_args(argparse.ArgumentParser()).parse_args(list(flags))
    vars(cfg).update(epochs=100, batch_size=64, num_frames=16, crop_size=112, sampling_rate=2, lr_policy="step",
                     lr_steps=[30, 50, 60, 145], lr_factors=[0.1, 0.01, 0.001, 1e-4], lr=0.01, warmup_epochs=34,
                     warmup_start_lr=0.01, output_dir=str(tmp_path), workers=0, seed=0, variant="ghostnet",
                     jitter_min=125, jitter_max=160, jitter_scales=[125, 160])
    return cfg


def test_off_by_default_and_refusals(tmp_path):
    assert prepare_multigrid(Recipe(), _cfg(tmp_path)) is None

    class Undeclared:
        name = "undeclared"

    with pytest.raises(MultigridError, match="does not declare multigrid support"):
        prepare_multigrid(Undeclared(), _cfg(tmp_path, "--multigrid-short"))
    tsn = Recipe(frames=False, reason="the temporal shift is built for a fixed segment count")
    with pytest.raises(MultigridError, match="fixed segment count. Train without it or use --multigrid-short only"):
        prepare_multigrid(tsn, _cfg(tmp_path, "--multigrid-long"))
    assert prepare_multigrid(tsn, _cfg(tmp_path, "--multigrid-short")).plan.epochs == 150
    cosine = _cfg(tmp_path, "--multigrid-long")
    cosine.lr_policy = "cosine"
    with pytest.raises(MultigridError, match="step schedule"):
        prepare_multigrid(Recipe(), cosine)
    cosine.multigrid_long, cosine.multigrid_short = False, True  # the short cycle alone stretches any schedule
    setup = prepare_multigrid(Recipe(), cosine)
    assert setup.trainer_config.epochs == 150 and setup.schedule.policy(150) == pytest.approx(0.0)


def test_long_and_short_cycle_setup(tmp_path):
    cfg = _cfg(tmp_path, "--multigrid-long", "--multigrid-short")
    lines = []
    setup = prepare_multigrid(Recipe(), cfg, log=lines.append)
    assert cfg.epochs == 100 and setup.trainer_config.epochs == setup.plan.epochs == 150  # config.json: base
    assert setup.plan.steps == sorted(setup.plan.steps)  # GhostNet's step 145 dropped (quirk Q4 fixed)
    assert setup.schedule.lr_at(0) == pytest.approx(0.01) and setup.schedule.lr_at(1) > 0.01  # warm-up to 0.04
    with Image.open(tmp_path / "multigrid_schedule.png") as image:
        assert image.width >= 1280
    assert any("batch x8, 4 frames, crop 79" in line for line in lines)

    first = setup.plan.shape(0)
    dataset = setup.hook.dataset_for(first, 56)  # the short cycle's smallest crop (0.5 x 112)
    assert (dataset.cfg.num_frames, dataset.cfg.crop_size) == (4, 56)
    assert (dataset.cfg.jitter_min, dataset.cfg.jitter_max) == (62, 160)  # round(125 * 56 / 112)
    assert dataset.cfg.jitter_scales == [62, 160]  # the Efficient-SlowFast spelling
    assert isinstance(dataset.sampler, RandomRateSampler) and (dataset.sampler.low, dataset.sampler.high) == (2, 8)
    rng = np.random.default_rng(0)
    spans = {int(np.ptp(dataset.sampler.train_indices(1000, rng))) for _ in range(200)}
    assert spans == {4 * rate - 1 for rate in range(2, 9)}  # 4 frames spread over rate x 4 frames, every rate
    last = setup.hook.dataset_for(setup.plan.shape(149), 112)
    assert isinstance(last.sampler, SlowFastClipSampler) and last.sampler.sampling_rate == 2


def test_evaluation_points_per_phase_as_pyslowfast():
    from common.engine.multigrid import multigrid_plan
    from common.engine.multigrid_loop import MultigridTraining

    plan = multigrid_plan([0, 80, 100, 120, 140], 150, 64, 32, 224, 2, True, True)  # the dual config
    hook = MultigridTraining(plan, lambda shape, crop: None, eval_freq=3)
    points = [epoch for epoch in range(plan.epochs) if hook.is_eval_epoch(epoch, 10)]
    assert points[:6] == [17, 37, 57, 66, 76, 86]  # period 58 // 3 + 1 = 20 in phase 1, 29 // 3 + 1 = 10 in phase 2
    assert all(hook.is_eval_epoch(phase.end_epoch - 1, 10) for phase in plan.phases)
    every = MultigridTraining(plan, lambda shape, crop: None, eval_freq=0)
    assert [epoch for epoch in range(40) if every.is_eval_epoch(epoch, 10)] == [9, 19, 29, 39]
