"""Flags and presets, the resolved config.json, and the run logger's files."""
from __future__ import annotations

import argparse
import json

import pytest

from common.engine.cli import (add_engine_args, engine_defaults, per_process_batch_size, read_config_file,
                               save_resolved_config)
from common.engine.logging import RunLogger

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_engine_args(parser)
    parser.add_argument("--lr", type=float, default=0.1)
    return parser


def test_engine_defaults_and_batch_split():
    args = engine_defaults(epochs=3, resume="auto")
    assert (args.epochs, args.resume, args.amp, args.accum_steps) == (3, "auto", "off", 1)
    with pytest.raises(KeyError, match="not engine flags"):
        engine_defaults(learning_rate=1)
    assert per_process_batch_size(32, 8) == 4
    with pytest.raises(ValueError, match="not divisible"):
        per_process_batch_size(12, 8)


def test_save_resolved_config(tmp_path):
    args = _parser().parse_args(["--lr", "0.01", "--output-dir", str(tmp_path)])
    path = save_resolved_config(args, tmp_path, extra={"model": {"parameters": 123}})
    record = json.loads(path.read_text())
    assert record["config"]["lr"] == 0.01 and record["config"]["output_dir"] == str(tmp_path)
    assert record["model"] == {"parameters": 123} and "torch" in record["environment"]
    assert read_config_file(tmp_path) == read_config_file(path) == record["config"]


def test_help_lists_engine_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--amp {off,fp16,bf16}", "--resume RESUME", "--accum-steps", "--max-steps", "--sync-bn, --no-sync-bn"):
        assert flag in text


def test_run_logger_files_and_history(tmp_path):
    logger = RunLogger(tmp_path, echo=False)
    logger.info("hello run")
    logger.scalars({"train/loss": 2.0, "train/lr": 0.1, "train/top1": 10.0}, step=1)
    logger.scalars({"train/loss": 1.0, "train/lr": 0.01, "val/top1": 30.0}, step=2)
    restored = RunLogger(tmp_path / "other", is_main=False)
    restored.load_state_dict(logger.state_dict())
    assert restored.history["train/loss"] == [(1.0, 2.0), (2.0, 1.0)]
    png = logger.save_curves()
    logger.close()
    assert png.is_file() and png.stat().st_size > 5000
    assert "hello run" in (tmp_path / "log.txt").read_text()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert not (tmp_path / "other").exists()  # non-main ranks write nothing


def test_refresh_curves_keeps_mid_run_redraws_under_their_time_share(tmp_path, monkeypatch):
    from common.engine import logging as run_logging
    clock = [100.0]
    drawn = []

    def draw(*_):  # a redraw that takes 1 s of the fake clock
        drawn.append(clock[0])
        clock[0] += 1.0

    monkeypatch.setattr(run_logging.time, "monotonic", lambda: clock[0])
    logger = RunLogger(tmp_path, is_main=False)
    logger.save_curves = draw
    for _ in range(12):  # epochs of 2 s: with a 0.1 share, a redraw at most every 10 s after the last one ended
        logger.refresh_curves()
        clock[0] += 2.0
    assert drawn == [100.0, 111.0, 122.0]  # each 10 s after the previous draw ended (at 101, then 112)
    monkeypatch.setattr(run_logging, "CURVES_TIME_SHARE", 1.0)  # epochs longer than a draw: every epoch
    drawn.clear()
    for _ in range(3):
        logger.refresh_curves()
        clock[0] += 2.0
    assert len(drawn) == 3


def test_tensorboard_hint_names_the_install_command_only_when_the_viewer_is_missing(monkeypatch):
    import importlib.util

    from common.engine import logging as run_logging
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert "-m pip install tensorboard" in run_logging.tensorboard_hint()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert run_logging.tensorboard_hint() == ""
