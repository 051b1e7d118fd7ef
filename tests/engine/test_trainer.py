"""Trainer exactness on CPU: resume is bitwise, SIGTERM saves and exits, NaN stops, AMP paths run, accumulation."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from common.distributed import seed_everything
from common.engine import logging as run_logging
from common.engine.checkpoint import load_checkpoint
from common.engine.cli import engine_defaults
from common.engine.trainer import NonFiniteLossError


def _load_tiny_job():
    spec = importlib.util.spec_from_file_location("tiny_job", Path(__file__).with_name("tiny_job.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tiny_job = _load_tiny_job()


@pytest.fixture(autouse=True)
def deterministic_mode():
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def _config(tmp_path: Path, name: str, **overrides):
    values = dict(output_dir=str(tmp_path / name), epochs=3, batch_size=4, workers=0, seed=3, log_every=2,
                  no_progress=True, deterministic=True, eval_every=1)
    values.update(overrides)
    return engine_defaults(**values)


def _run(config, **kwargs):
    seed_everything(config.seed, deterministic=True)
    trainer = tiny_job.build_trainer(config, **kwargs)
    trainer.logger.echo = False
    return trainer, trainer.fit()


def _assert_same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_resume_after_k_steps_is_bitwise_identical(tmp_path):
    # Dropout makes the result depend on the restored RNG state as well as on weights and data order.
    full, full_result = _run(_config(tmp_path, "full"), dropout=0.3)
    assert full_result.status == "finished" and full_result.step == 18  # 3 epochs x 6 batches

    # Stop mid-epoch (step 8 of 18 is inside epoch 2), then resume in a fresh trainer.
    _, stopped = _run(_config(tmp_path, "split", max_steps=8), dropout=0.3)
    assert stopped.status == "max_steps" and stopped.step == 8
    resumed, resumed_result = _run(_config(tmp_path, "split", resume="auto"), dropout=0.3)
    assert resumed_result.status == "finished" and resumed_result.step == 18

    _assert_same_weights(full.model.state_dict(), resumed.model.state_dict())
    assert resumed_result.last_validation == full_result.last_validation
    assert resumed_result.best_metric == full_result.best_metric
    # The run directory has what a user expects, and the curves cover the whole run after a resume.
    run_dir = tmp_path / "split"
    assert (run_dir / "checkpoints" / "best.pth").is_file() and (run_dir / "curves.png").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert "resuming from" in (run_dir / "log.txt").read_text()
    assert resumed.logger.history["train/loss"][0][0] == 2.0  # first logged step, from the first process


def test_sigterm_saves_at_step_boundary_and_resume_matches(tmp_path):
    calls = {"n": 0}

    def loss_sending_sigterm(logits, targets):
        calls["n"] += logits.requires_grad
        if calls["n"] == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return nn.functional.cross_entropy(logits, targets)

    previous_handler = signal.getsignal(signal.SIGTERM)
    trainer, result = _run(_config(tmp_path, "signal", epochs=2), loss_fn=loss_sending_sigterm)
    assert result.status == "interrupted" and result.step == 5
    assert signal.getsignal(signal.SIGTERM) is previous_handler  # handlers restored after fit
    saved = load_checkpoint(tmp_path / "signal" / "checkpoints" / "last.pth")
    assert saved["step"] == 5 and saved["batches_done"] == 5 and saved["epoch"] == 0
    _assert_same_weights(saved["model"], trainer.model.state_dict())

    _, resumed = _run(_config(tmp_path, "signal", epochs=2, resume="auto"))
    reference, reference_result = _run(_config(tmp_path, "plain", epochs=2))
    assert resumed.step == reference_result.step == 12
    assert resumed.last_validation == reference_result.last_validation


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def loss_going_nan(logits, targets):
        calls["n"] += logits.requires_grad  # count training steps only, not validation batches
        loss = nn.functional.cross_entropy(logits, targets)
        return loss * float("nan") if calls["n"] >= 9 else loss  # step 9 is in epoch 2

    config = _config(tmp_path, "nan", epochs=3, log_every=1)
    seed_everything(config.seed, deterministic=True)
    trainer = tiny_job.build_trainer(config, loss_fn=loss_going_nan)
    trainer.logger.echo = False
    with pytest.raises(NonFiniteLossError, match="optimiser step 9"):
        trainer.fit()
    saved = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pth")
    assert saved["epoch"] == 1 and saved["step"] == 6  # written after epoch 1, never overwritten
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_paths_run_on_cpu(tmp_path, amp):
    config = _config(tmp_path, amp, epochs=1, amp=amp, deterministic=False, grad_clip=1.0,
                     channels_last=amp == "bf16")
    trainer, result = _run(config)
    assert result.status == "finished" and result.step == 6
    saved = load_checkpoint(tmp_path / amp / "checkpoints" / "last.pth")
    if amp == "fp16":
        assert saved["scaler"]["scale"] > 0  # the GradScaler state travels with the checkpoint
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values() if v.is_floating_point())


def test_gradient_accumulation_matches_larger_batch(tmp_path):
    # 2 micro-batches of 2 with --accum-steps 2 == batches of 4 (no batch statistics, mean loss).
    big, big_result = _run(_config(tmp_path, "big", epochs=1, batch_size=4, eval_every=5))
    small, small_result = _run(_config(tmp_path, "accum", epochs=1, batch_size=2, accum_steps=2, eval_every=5))
    assert big_result.step == small_result.step == 6
    for key, value in big.model.state_dict().items():
        torch.testing.assert_close(small.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_log_has_iteration_lines_with_eta_and_curves_each_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(run_logging, "CURVES_TIME_SHARE", 1e9)  # epochs as long as a real run's, relative to a draw
    config = _config(tmp_path, "logged", epochs=2, log_every=3)
    curves_after = []
    trainer = tiny_job.build_trainer(config)
    trainer.logger.echo = False
    save_curves = trainer.logger.save_curves
    trainer.logger.save_curves = lambda *a, **k: curves_after.append(trainer.epoch) or save_curves(*a, **k)
    trainer.fit()
    lines = [line for line in (tmp_path / "logged" / "log.txt").read_text().splitlines() if "] epoch [" in line]
    assert len(lines) == 4  # 6 batches per epoch, a line every 3 steps
    first = lines[0].split("] ", 1)[1]
    assert first.startswith("epoch [1][3/6]  lr ") and "  eta 0:00:" in first
    for field in ("time ", "data_time ", "memory ", "MiB", "loss ", "top1 "):
        assert field in first, field
    assert lines[-1].split("] ", 1)[1].startswith("epoch [2][6/6]") and "eta 0:00:00" in lines[-1]
    assert curves_after[:2] == [1, 2]  # written after each epoch, not only at the end
    environment = json.loads((tmp_path / "logged" / "config.json").read_text())["environment"]
    assert len(environment["git_commit"]) == 40 and isinstance(environment["git_dirty"], bool)
