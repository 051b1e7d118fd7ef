"""How a run ends, as a scheduler sees it: a distinct exit status after SIGTERM / Ctrl-C (checkpoint saved), and
flags the machine cannot honour refused at start in one line."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from torch import nn

from common.distributed import DistInfo
from common.engine.checkpoint import load_checkpoint
from common.engine.cli import engine_defaults

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("tiny_job", Path(__file__).with_name("tiny_job.py"))
tiny_job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_job)


def _config(tmp_path: Path, **overrides):
    values = dict(output_dir=str(tmp_path / "run"), epochs=2, batch_size=4, workers=0, log_every=1, no_progress=True)
    return engine_defaults(**{**values, **overrides})


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_reports_128_plus_the_signal(tmp_path, signum, status):
    calls = {"n": 0}

    def loss_then_signal(logits, targets):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signum)
        return nn.functional.cross_entropy(logits, targets)

    trainer = tiny_job.build_trainer(_config(tmp_path), loss_fn=loss_then_signal)
    trainer.logger.echo = False
    result = trainer.fit()
    assert result.status == "interrupted" and result.exit_code == status
    finished = tiny_job.build_trainer(_config(tmp_path, resume="auto"))
    finished.logger.echo = False
    assert finished.fit().exit_code == 0


def test_sigterm_to_a_training_entry_point_exits_143_after_saving(synthetic_dataset, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "projects.masnet.main", "--preset", "synthetic_tiny", "--data-root",
               str(synthetic_dataset.root), "--num_segments", "4", "--workers", "0", "--device", "cpu",
               "--no-progress", "--output-dir", str(run), "--epochs", "100", "--log-every", "1", "--batch-size", "2"]
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 240
    while not ((run / "log.txt").is_file() and "epoch [1][" in (run / "log.txt").read_text()):
        assert child.poll() is None and time.monotonic() < deadline, child.stderr.read() if child.stderr else ""
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=120) == 143
    assert load_checkpoint(run / "checkpoints" / "last.pth")["step"] >= 1
    assert "received SIGTERM" in (run / "log.txt").read_text()


@pytest.mark.parametrize("world_size", [1, 2])
def test_sync_bn_on_cpu_is_refused_at_start_in_one_line(tmp_path, world_size):
    info = DistInfo(0, world_size, 0, tiny_job.torch.device("cpu"), "gloo" if world_size > 1 else None)
    with pytest.raises(SystemExit) as stop:
        tiny_job.build_trainer(_config(tmp_path, sync_bn=True), dist_info=info)
    message = str(stop.value.code)
    assert message.startswith("error: --sync-bn needs CUDA") and "\n" not in message
    assert not (tmp_path / "run" / "checkpoints").exists()
