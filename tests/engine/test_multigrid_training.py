"""Multigrid training end to end on CPU: every long-cycle phase with short cycles, exact stop / resume across a
phase boundary, a strict plain-model load of a sub-BN checkpoint, no leaked loader workers, and 2 gloo DDP
processes equal to one process with the global batch."""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from common.data.short_cycle import ShortCycleBatchSampler
from common.data.loader import ShardedSampler
from common.engine.checkpoint import load_checkpoint
from common.engine.multigrid import short_cycle_batch_factors
from common.engine.multigrid_bn import SubBatchNorm

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--epochs", "8", "--batch-size", "8", "--workers", "0", "--seed", "3", "--no-progress", "--log-every", "5",
         "--device", "cpu", "--multigrid-long", "--multigrid-short"]


def _job():
    spec = importlib.util.spec_from_file_location("multigrid_job", REPO / "tests" / "engine" / "multigrid_job.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(job, output, extra=(), train_size=256):
    args = job.parser().parse_args(["--output-dir", str(output), *FLAGS, *extra])
    trainer = job.build_trainer(args, train_size=train_size)
    return trainer, trainer.fit()


def _steps_per_epoch(plan, size=256):
    counts = []
    for epoch in range(plan.epochs):
        shape = plan.shape(epoch)
        sampler = ShardedSampler(size, shuffle=True, rank=0, world_size=1)
        counts.append(len(ShortCycleBatchSampler(sampler, shape.batch_size, short_cycle_batch_factors(shape))))
    return counts


def test_all_long_cycle_phases_train_on_cpu(tmp_path):
    job = _job()
    shapes = []
    # Precise BN statistics at every epoch end, computed on the plain BN layers, then split again.
    args = job.parser().parse_args(["--output-dir", str(tmp_path), *FLAGS, "--precise-bn-batches", "2"])
    trainer = job.build_trainer(args, train_size=256)
    original = trainer.multigrid.loader_for_epoch

    def spy(model, epoch, log=None):
        loader = original(model, epoch, log)
        batch = next(iter(loader))
        shapes.append((epoch, trainer.multigrid.phase, tuple(batch["clip"].shape)))
        return loader

    trainer.multigrid.loader_for_epoch = spy
    result = trainer.fit()
    plan = trainer.multigrid.plan
    assert result.status == "finished" and result.epoch == plan.epochs == 12
    assert result.step == sum(_steps_per_epoch(plan))
    phases = sorted({phase for _, phase, _ in shapes})
    assert phases == list(range(len(plan.phases))) == [0, 1, 2, 3, 4]
    first = {phase: shape for _, phase, shape in reversed(shapes)}
    # First batch of a phase is the short cycle's smallest crop (8 = 0.5 x 16) with the biggest batch.
    assert first[0] == (128, 3, 2, 8, 8) and first[1] == (64, 3, 4, 8, 8) and first[3] == (32, 3, 8, 8, 8)
    assert type(trainer.model.bn) is torch.nn.BatchNorm3d  # plain again after training
    log = (tmp_path / "log.txt").read_text()
    assert "multigrid phase 1/5 from epoch 1: global batch 64, 2 frames at rate 1-4, crop 11" in log
    assert "BN sub x8" in log and "BN plain x1" in log and log.count("precise BN: running statistics") == 12
    assert "multigrid phase 5/5 from epoch 12: same shape, loader and BN kept" in log  # fine-tuning at x1


def test_stop_and_resume_across_phase_boundary_is_exact(tmp_path):
    job = _job()
    _, full = _run(job, tmp_path / "full")
    trainer_full_state = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pth")
    steps = _steps_per_epoch(job.build_trainer(job.parser().parse_args(
        ["--output-dir", str(tmp_path / "probe"), *FLAGS])).multigrid.plan)
    phase_one = 5 * steps[0]
    stops = [4, phase_one + 2]  # inside epoch 2 of phase 1 (sub-BN x8), then just after the phase boundary
    for stop in stops:
        trainer, result = _run(job, tmp_path / "stopped", ["--max-steps", str(stop), "--resume", "auto"])
        assert result.status == "max_steps" and result.step == stop
        if stop == stops[0]:
            saved = load_checkpoint(tmp_path / "stopped" / "checkpoints" / "last.pth")
            assert saved["multigrid"]["phase"] == 0 and saved["multigrid"]["sub_batchnorm_per_rank"][0]
            plain = job.Net()
            plain.load_state_dict(saved["model"], strict=True)  # plain BN keys although saved in sub-BN (Q3)
    trainer, result = _run(job, tmp_path / "stopped", ["--resume", "auto"])
    assert result.step == full.step
    resumed = load_checkpoint(tmp_path / "stopped" / "checkpoints" / "last.pth")
    for key, value in trainer_full_state["model"].items():
        assert torch.equal(resumed["model"][key], value), key
    for key, value in trainer_full_state["optimizer"]["state"].items():
        assert torch.equal(resumed["optimizer"]["state"][key]["momentum_buffer"], value["momentum_buffer"])


def test_sub_bn_active_in_big_batch_phase(tmp_path):
    job = _job()
    args = job.parser().parse_args(["--output-dir", str(tmp_path), *FLAGS])
    trainer = job.build_trainer(args)
    trainer.multigrid.loader_for_epoch(trainer.model, 0)
    assert isinstance(trainer.model.bn, SubBatchNorm) and trainer.model.bn.splits == 8
    with trainer.multigrid.plain_batchnorm(trainer.model):  # e.g. precise BN statistics
        assert type(trainer.model.bn) is torch.nn.BatchNorm3d
        trainer.model.bn.running_mean.fill_(0.25)
    assert isinstance(trainer.model.bn, SubBatchNorm) and torch.equal(trainer.model.bn.split_mean,
                                                                         torch.full((64,), 0.25))
    trainer.multigrid.loader_for_epoch(trainer.model, trainer.multigrid.plan.epochs - 1)
    assert type(trainer.model.bn) is torch.nn.BatchNorm3d


def test_phase_switches_do_not_leak_persistent_workers(tmp_path):
    job = _job()
    args = job.parser().parse_args(["--output-dir", str(tmp_path), *FLAGS, "--workers", "1", "--no-multigrid-short"])
    trainer = job.build_trainer(args, train_size=64)
    original = trainer.multigrid.loader_for_epoch
    alive = []

    def spy(model, epoch, log=None):
        loader = original(model, epoch, log)
        alive.append(len(multiprocessing.active_children()))
        return loader

    trainer.multigrid.loader_for_epoch = spy
    before = len(multiprocessing.active_children())
    trainer.fit()
    assert max(alive) <= before + 1 and len(alive) == trainer.multigrid.plan.epochs
    assert len(multiprocessing.active_children()) == before


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_ddp_equals_one_process(tmp_path):
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID"):
        environ.pop(key, None)
    job_path = str(REPO / "tests" / "engine" / "multigrid_job.py")
    _job().main(["--output-dir", str(tmp_path / "one"), *FLAGS])
    double = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                             "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), job_path,
                             "--output-dir", str(tmp_path / "two"), *FLAGS],
                            env=environ, capture_output=True, text=True, timeout=600)
    assert double.returncode == 0, double.stderr[-3000:]
    one = torch.load(tmp_path / "one" / "final.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "final.pt", weights_only=True)
    assert (one["world_size"], two["world_size"]) == (1, 2) and one["step"] == two["step"]
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key].double(), value.double(), rtol=1e-4, atol=1e-5)
    log = (tmp_path / "two" / "log.txt").read_text()
    assert "BN sub x4" in log and "BN sync x2" in log  # half the per-process batch: half the splits, then sync
