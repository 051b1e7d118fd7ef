"""Checkpoint files: atomic writes, truncated-file fallback, safe loading, unwrapping, key reports, RNG state."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from common.engine.checkpoint import (CheckpointError, CheckpointManager, atomic_save, capture_rng_state,
                                      load_checkpoint, load_state_dict_verbose, restore_rng_state,
                                      unwrap_state_dict)


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("refuses to pickle")


def _training_state(step: int) -> dict:
    return {"model": {"w": torch.full((3,), float(step))}, "step": step, "epoch": step // 10}


def test_atomic_save_keeps_previous_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pth"
    atomic_save({"value": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="refuses"):
        atomic_save({"value": torch.zeros(2), "bad": Unpicklable()}, path)
    assert torch.equal(load_checkpoint(path)["value"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pth"]  # no temporary file left behind


def test_resume_auto_skips_truncated_newest_checkpoint(tmp_path):
    messages: list[str] = []
    manager = CheckpointManager(tmp_path, save_every=1, log=messages.append)
    manager.save(_training_state(10), epoch_finished=1)  # last.pth + epoch_0001.pth
    time.sleep(0.01)
    manager.save(_training_state(20), epoch_finished=2)  # last.pth + epoch_0002.pth
    os.utime(manager.last_path)  # last.pth is the newest file ...
    data = manager.last_path.read_bytes()
    manager.last_path.write_bytes(data[: len(data) // 2])  # ... and truncated, e.g. by a full disk
    state = manager.resume("auto")
    assert state["step"] == 20  # fell back to epoch_0002.pth, the newest complete file
    assert any("skipping unreadable checkpoint" in m and "last.pth" in m for m in messages)
    assert CheckpointManager(tmp_path / "empty", log=messages.append).resume("auto") is None
    assert "starting from scratch" in messages[-1]
    assert manager.resume(None) is None


@pytest.mark.parametrize("killed_write", [0, 1, 2])
def test_a_kill_during_a_save_never_leaves_best_pth_behind_the_best_metric(tmp_path, monkeypatch, killed_write):
    """Whichever of a save's three writes (best, last, snapshot) a kill interrupts, the state ``--resume auto``
    takes records no better ``best_metric`` than the weights in ``best.pth`` have."""
    from common.engine import checkpoint
    manager = CheckpointManager(tmp_path, save_every=2)
    manager.save({**_training_state(1), "best_metric": 10.0}, epoch_finished=1, is_best=True)
    time.sleep(0.01)
    writes, real_save = [], checkpoint.atomic_save

    def killed(state, path):
        if len(writes) == killed_write:
            raise KeyboardInterrupt  # the process dies here
        writes.append(path)
        real_save(state, path)

    monkeypatch.setattr(checkpoint, "atomic_save", killed)
    with pytest.raises(KeyboardInterrupt):
        manager.save({**_training_state(2), "best_metric": 20.0}, epoch_finished=2, is_best=True)
    monkeypatch.setattr(checkpoint, "atomic_save", real_save)
    resumed = manager.resume("auto")
    assert resumed["best_metric"] == load_checkpoint(manager.best_path)["best_metric"]
    assert resumed["step"] == (1 if killed_write == 0 else 2)


def test_best_and_every_n_files(tmp_path):
    manager = CheckpointManager(tmp_path, save_every=2)
    manager.save(_training_state(1), epoch_finished=1, is_best=True)
    manager.save(_training_state(2), epoch_finished=2, is_best=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pth", "epoch_0002.pth", "last.pth"]
    assert load_checkpoint(manager.best_path)["step"] == 1 and load_checkpoint(manager.last_path)["step"] == 2
    CheckpointManager(tmp_path / "other", is_main=False).save(_training_state(3))
    assert not (tmp_path / "other").exists()  # only the main process writes


def test_load_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pth does not exist"):
        load_checkpoint(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pth cannot be read"):
        load_checkpoint(garbage)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"object": Path("x")}, unsafe)  # an arbitrary Python object: refused by weights_only
    with pytest.raises(CheckpointError, match=r"unsafe.pth contains a Python object \(pathlib"):
        load_checkpoint(unsafe)


def test_unwrap_state_dict_containers_and_prefixes():
    weights = {"a.weight": torch.ones(1), "b.bias": torch.zeros(1)}
    prefixed = {f"module.{k}": v for k, v in weights.items()}
    for container in (weights, {"model_state": weights, "epoch": 3}, {"state_dict": prefixed, "best_prec1": 1.0},
                      {"model": {f"_orig_mod.{k}": v for k, v in weights.items()}}):
        assert list(unwrap_state_dict(container)) == list(weights)
    with pytest.raises(CheckpointError, match="no state dict"):
        unwrap_state_dict({"epoch": 1})


def test_load_state_dict_verbose_reports_keys_by_name(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = {k: v.clone() for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    state["extra.weight"] = torch.ones(1)
    state["0.bias"] = torch.ones(5)
    del state["1.weight"]
    with pytest.raises(CheckpointError) as error:
        load_state_dict_verbose(model, state)
    message = str(error.value)
    assert "1 missing: 1.weight" in message and "unexpected: extra.weight" in message
    assert "0.bias: checkpoint (5,) vs model (3,)" in message
    logged = []
    missing, unexpected = load_state_dict_verbose(model, state, strict=False, log=logged.append)
    assert missing == ["1.weight"] and unexpected == ["extra.weight"] and len(logged) == 3



def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    atomic_save({"rng": capture_rng_state()}, tmp_path / "rng.pth")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng_state(load_checkpoint(tmp_path / "rng.pth")["rng"])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])
