"""Multigrid from the entry points: two flags on main.py (MAS-Net: short cycle only, refused long cycle with the
reason; Motionformer: refused, patch-indivisible crops), the schedule picture written at start."""
from __future__ import annotations

import pytest

from common.engine.app import train
from projects.masnet.recipe import RECIPE as MASNET
from projects.mgma.recipe import RECIPE as MGMA
from projects.motionformer.recipe import RECIPE as MOTIONFORMER


def _masnet_args(synthetic_dataset, output, *flags):
    return ["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root), "--num_segments", "4",
            "--workers", "0", "--device", "cpu", "--no-progress", "--output-dir", str(output), "--batch-size", "2",
            "--no-count-flops", *flags]


def test_masnet_short_cycle_trains_from_main(synthetic_dataset, tmp_path):
    result = train(MASNET, _masnet_args(synthetic_dataset, tmp_path, "--multigrid-short", "--max-steps", "3"))
    assert result.status == "max_steps" and result.step == 3
    log = (tmp_path / "log.txt").read_text()
    assert "short cycle crops (28, 40, 56) with batches x(4, 2, 1)" in log
    assert (tmp_path / "multigrid_schedule.png").stat().st_size > 0


def test_masnet_long_cycle_refused_with_the_reason(synthetic_dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        train(MASNET, _masnet_args(synthetic_dataset, tmp_path, "--multigrid-long"))
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert "--multigrid-long" in message and "built for --num-frames 4 segments" in message
    assert "--multigrid-short only" in message


def test_st_abn_short_cycle_trains_and_long_cycle_is_refused(synthetic_dataset, tmp_path, capsys):
    from projects.st_abn.recipe import RECIPE as ST_ABN

    common = ["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root), "--workers", "0",
              "--device", "cpu", "--no-progress", "--batch-size", "2", "--val-list", ""]
    result = train(ST_ABN, common + ["--output-dir", str(tmp_path / "short"), "--multigrid-short", "--max-steps", "2"])
    assert result.status == "max_steps"
    assert "short cycle crops (28, 40, 56)" in (tmp_path / "short" / "log.txt").read_text()
    with pytest.raises(SystemExit) as stop:
        train(ST_ABN, common + ["--output-dir", str(tmp_path / "long"), "--multigrid-long"])
    assert stop.value.code == 2 and "built for --num-frames 8" in capsys.readouterr().err


def test_mgma_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        train(MGMA, ["--preset", "tiny_synthetic", "--train-list", "x.csv", "--multigrid-long", "--output-dir",
                     str(tmp_path), "--device", "cpu"])
    assert stop.value.code == 2 and "head's average pool is sized for" in capsys.readouterr().err


def test_motionformer_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        train(MOTIONFORMER, ["--variant", "motionformer_224_16x4", "--train-list", "x.csv", "--multigrid-short",
                             "--output-dir", str(tmp_path), "--device", "cpu"])
    assert stop.value.code == 2
    assert "crops [158] do not divide by the 16-pixel patch" in capsys.readouterr().err


def test_efficient_slowfast_long_and_short_cycle_from_main(synthetic_dataset, tmp_path):
    from projects.efficient_slowfast.recipe import RECIPE as ESF

    result = train(ESF, ["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root), "--output-dir",
                         str(tmp_path), "--num-frames", "16", "--sampling-rate", "4", "--batch-size", "2",
                         "--workers", "0", "--val-list", "", "--device", "cpu", "--no-progress", "--no-count-flops",
                         "--lr-policy", "step", "--lr-steps", "4", "--lr-factors", "0.1", "--epochs", "6",
                         "--multigrid-long", "--multigrid-short", "--max-steps", "4"])
    assert result.status == "max_steps" and result.step == 4
    log = (tmp_path / "log.txt").read_text()
    assert "multigrid phase 1/5 from epoch 1: global batch 16, 4 frames at rate 4-16, crop 40; BN sub x2" in log
    assert "WARNING: no batch fits this process's 16 clips" in log  # x2 short-cycle batches of 32 clips
    assert "BN plain x1 (sync over 2 processes; there is 1)" in log  # phase 3: 4 clips per process
    assert (tmp_path / "multigrid_schedule.png").is_file()
