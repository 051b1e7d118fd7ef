"""Checkpoints under hostile conditions: a foreign file to fine-tune from or to resume, a full disk, a killed writer."""
from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from common.engine import checkpoint
from common.engine.checkpoint import (CheckpointError, CheckpointManager, atomic_save, load_checkpoint,
                                      load_finetune_weights, remove_stale_temporaries)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _net(num_classes: int = 4) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, num_classes))


def _foreign() -> nn.Module:
    return nn.ModuleDict({"embed": nn.Linear(3, 5), "norm": nn.LayerNorm(5), "head": nn.Linear(5, 4)})


def test_finetune_refuses_a_checkpoint_of_another_architecture(tmp_path):
    path = tmp_path / "foreign.pth"
    torch.save({"model": _foreign().state_dict(), "step": 3}, path)
    model = _net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"refusing to fine-tune from .*foreign.pth.*model weights not in the "
                                              r"file: 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean, \.\.\. \(6 in all\); "
                                              r"6 weights the model does not have: embed.weight"):
        load_finetune_weights(model, path, classifier_prefixes=("3.",))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing half-loaded


def test_finetune_loads_the_body_and_reinitialises_a_classifier_of_another_size(tmp_path):
    source = _net(num_classes=7)
    path = tmp_path / "k400.pth"
    torch.save({"model": {f"module.{k}": v for k, v in source.state_dict().items()}, "step": 1}, path)
    model, messages = _net(num_classes=4), []
    fresh_head = model[3].weight.clone()
    reinitialised = load_finetune_weights(model, path, classifier_prefixes=("3.",), log=messages.append)
    assert reinitialised == ["3.weight", "3.bias"]
    assert torch.equal(model[0].weight, source[0].weight) and torch.equal(model[1].running_mean, source[1].running_mean)
    assert torch.equal(model[3].weight, fresh_head)
    assert "k400.pth" in messages[0] and "classifier re-initialised" in messages[1] and "(7, 4) -> (4, 4)" in messages[1]
    same = _net(num_classes=7)
    assert load_finetune_weights(same, path, classifier_prefixes=("3.",), log=messages.append) == []
    assert torch.equal(same[3].weight, source[3].weight)
    reshaped = nn.Sequential(nn.Conv2d(3, 4, 5), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 4))
    with pytest.raises(CheckpointError, match=r"1 with another shape .*0.weight \(4, 3, 3, 3\) vs \(4, 3, 5, 5\)"):
        load_finetune_weights(reshaped, path, classifier_prefixes=("3.",))


def test_resume_from_a_path_that_holds_plain_weights_says_what_to_do(tmp_path):
    weights = tmp_path / "weights.pth"
    torch.save(_net().state_dict(), weights)
    manager = CheckpointManager(tmp_path / "run", log=lambda message: None)
    with pytest.raises(CheckpointError, match=r"--resume .*weights.pth: not a training checkpoint .*fine-tuning"):
        manager.resume(str(weights))


def test_full_disk_names_the_file_and_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pth"
    atomic_save({"w": torch.ones(2)}, path)

    class FullDisk(io.FileIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint, "open", lambda name, mode: FullDisk(name, mode), raising=False)
    with pytest.raises(CheckpointError, match=r"cannot write checkpoint .*last.pth: No space left on device\. "
                                              r"Free space .*--output-dir.*--resume auto"):
        atomic_save({"w": torch.zeros(1000)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(2))
    assert [p.name for p in path.parent.iterdir()] == ["last.pth"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_only_are_removed(tmp_path):
    dead, host = _dead_pid(), checkpoint.socket.gethostname()
    names = {f".last.pth.tmp{dead}": False, f".epoch_0004.pth.tmp{dead}@{host}": False,  # today's and old names
             f".best.pth.tmp{os.getpid()}@{host}": True,  # a live writer
             f".last.pth.tmp{dead}@another-node": True, "notes.tmp1": True}
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, kept in names.items() if not kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, kept in names.items() if kept)


KILLED_WRITER = """
    import os, signal, sys, torch
    from common.engine.checkpoint import CheckpointManager
    manager = CheckpointManager(sys.argv[1], save_every=2)
    state = lambda epoch: {"model": {"w": torch.full((50000,), float(epoch))}, "step": 10 * epoch, "epoch": epoch,
                           "batches_done": 0}
    manager.save(state(2), epoch_finished=2)
    real_save = torch.save
    def dying_save(obj, handle):
        if "epoch_0004" in handle.name:  # SIGKILL in the middle of writing the --save-every snapshot
            handle.write(b"half a checkpoint")
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        real_save(obj, handle)
    torch.save = dying_save
    manager.save(state(4), epoch_finished=4)
"""


def test_a_killed_snapshot_write_leaves_no_debris_and_the_snapshot_is_rewritten(tmp_path):
    directory = tmp_path / "checkpoints"
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(directory)], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    debris = [p.name for p in directory.iterdir() if p.name.startswith(".")]
    assert len(debris) == 1 and debris[0].startswith(".epoch_0004.pth.tmp")
    assert not (directory / "epoch_0004.pth").exists()

    messages: list[str] = []
    state = CheckpointManager(directory, save_every=2, log=messages.append).resume("auto")
    assert state["epoch"] == 4
    assert sorted(p.name for p in directory.iterdir()) == ["epoch_0002.pth", "epoch_0004.pth", "last.pth"]
    assert torch.equal(load_checkpoint(directory / "epoch_0004.pth")["model"]["w"], state["model"]["w"])
    assert any("removed .epoch_0004.pth.tmp" in m for m in messages)
    assert any("rewrote missing snapshot epoch_0004.pth" in m for m in messages)
    (directory / "epoch_0002.pth").unlink()
    CheckpointManager(directory, save_every=2, log=messages.append).resume("auto")
    assert "not recoverable" in messages[-1] and "epoch_0002.pth" in messages[-1]
