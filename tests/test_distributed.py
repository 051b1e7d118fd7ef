"""Distributed helpers: Slurm variables and node lists, the sharded sampler, the sbatch wiring, and a real
2-process gloo DDP run (torchrun) that must end with the same weights and test predictions as one process."""
from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from common.data.loader import ShardedSampler
from common.distributed import all_gather_object, gather_to_main
from common.slurm import expand_nodelist, slurm_env_to_torch_env

REPO = Path(__file__).resolve().parents[1]


def test_expand_nodelist_matches_scontrol_rules():
    assert expand_nodelist("gpu[01-03,07],cpu5") == ["gpu01", "gpu02", "gpu03", "gpu07", "cpu5"]
    assert expand_nodelist("node9") == ["node9"]
    assert expand_nodelist("a[8-11]")[-1] == "a11"


def test_slurm_env_to_torch_env():
    environ = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
               "SLURM_JOB_NODELIST": "gpu[12-13]", "SLURM_JOB_ID": "123456"}
    assert slurm_env_to_torch_env(environ) == {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1",
                                               "MASTER_ADDR": "gpu12", "MASTER_PORT": str(15000 + 3456)}
    assert slurm_env_to_torch_env({**environ, "MASTER_ADDR": "h", "MASTER_PORT": "1"})["MASTER_ADDR"] == "h"
    with pytest.raises(KeyError, match="SLURM_NTASKS"):
        slurm_env_to_torch_env({"SLURM_PROCID": "0", "SLURM_JOB_NODELIST": "x"})


def test_sharded_sampler_train_and_eval_shards():
    train = [ShardedSampler(10, shuffle=True, seed=4, rank=r, world_size=3) for r in range(3)]
    for sampler in train:
        sampler.set_epoch(2)
    shards = [list(s) for s in train]
    assert all(len(shard) == 4 == len(s) for shard, s in zip(shards, train))  # padded to 12
    assert set().union(*map(set, shards)) == set(range(10))
    order = torch.randperm(10, generator=torch.Generator().manual_seed(6)).tolist()
    assert shards[0][:3] == order[0:9:3]  # the permutation depends only on seed + epoch
    train[0].set_epoch(2, start=1)
    assert list(train[0]) == shards[0][1:] and len(train[0]) == 3

    evaluation = [list(ShardedSampler(10, shuffle=False, rank=r, world_size=3)) for r in range(3)]
    assert sorted(sum(evaluation, [])) == list(range(10))  # every sample exactly once, no padding
    assert all_gather_object({"rank": 0}) == gather_to_main({"rank": 0}) == [{"rank": 0}]


def test_sbatch_template_wiring():
    environ = {**os.environ, "DRY_RUN": "1", "SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "gpu[07-08]",
               "SLURM_JOB_ID": "4242", "SLURM_GPUS_ON_NODE": "4", "SLURM_CPUS_PER_TASK": "32",
               "PYTHON": sys.executable}
    environ.pop("MASTER_ADDR", None)
    environ.pop("MASTER_PORT", None)
    output = subprocess.run(["bash", "common/tools/slurm_train.sbatch", "projects.masnet.main", "--preset", "p1",
                             "--output-dir", "runs/with space"], cwd=REPO, env=environ, check=True,
                            capture_output=True, text=True).stdout
    command = shlex.split(" ".join(output.splitlines()))
    assert command[:2] == ["srun", "--kill-on-bad-exit=1"]
    assert command[3:5] == ["-m", "torch.distributed.run"]
    for expected in ("--nnodes=2", "--nproc-per-node=4", "--rdzv-endpoint=gpu07:19242", "--rdzv-id=4242"):
        assert expected in command
    assert command[command.index("-m", 5):] == ["-m", "projects.masnet.main", "--preset", "p1",
                                                "--output-dir", "runs/with space"]
    missing = subprocess.run(["bash", "common/tools/slurm_train.sbatch"], cwd=REPO, env=environ,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "usage" in missing.stderr


def _load_tiny_job():
    spec = importlib.util.spec_from_file_location("tiny_job", REPO / "tests" / "engine" / "tiny_job.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_gloo_ddp_equals_one_process(tmp_path):
    flags = ["--epochs", "2", "--batch-size", "4", "--workers", "0", "--seed", "7", "--no-progress",
             "--log-every", "3", "--device", "cpu"]
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID"):
        environ.pop(key, None)
    job = str(REPO / "tests" / "engine" / "tiny_job.py")
    _load_tiny_job().main(["--output-dir", str(tmp_path / "one"), *flags])  # one process: in this one
    double = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                             "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), job,
                             "--output-dir", str(tmp_path / "two"), *flags],
                            env=environ, capture_output=True, text=True, timeout=300)
    assert double.returncode == 0, double.stderr[-3000:]

    one = torch.load(tmp_path / "one" / "final.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "final.pt", weights_only=True)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one["step"] == two["step"] == 12  # 24 clips / global batch 4 x 2 epochs
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, rtol=1e-5, atol=1e-6)
    # Multi-view testing: each rank scored its share of the 7 x 3 views; rank 0 got all of them.
    assert bool(two["received"].all()) and bool(one["received"].all())
    torch.testing.assert_close(two["view_scores"], one["view_scores"], rtol=1e-4, atol=1e-5)
    assert two["top1"] == one["top1"]
    log = (tmp_path / "two" / "log.txt").read_text()
    assert log.count("validation after epoch 2") == 1  # rank-0-only logging


def _fake_slurm(tmp_path: Path, srun_body: str) -> dict[str, str]:
    """``srun`` and ``scontrol`` stand-ins on PATH that record what happens to them in ``tmp_path``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(f"#!/bin/bash\n{srun_body}\n")
    (bin_dir / "scontrol").write_text('#!/bin/bash\necho "$@" > "$MARKS/scontrol"\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MARKS": str(tmp_path), "SLURM_JOB_ID": "77",
            "MASTER_ADDR": "localhost", "PYTHON": sys.executable}


def test_sbatch_template_forwards_sigterm_exits_143_and_requeues(tmp_path):
    environ = _fake_slurm(tmp_path, 'trap \'echo saved > "$MARKS/step_term"; exit 143\' TERM\n'
                                    'touch "$MARKS/step_started"\nwhile true; do sleep 0.1; done')
    job = subprocess.Popen(["bash", "common/tools/slurm_train.sbatch", "projects.masnet.main", "--resume", "auto"],
                           cwd=REPO, env=environ, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "step_started").exists():
        assert time.monotonic() < deadline and job.poll() is None
        time.sleep(0.1)
    job.send_signal(signal.SIGTERM)  # what --signal=B:TERM@120 does before the time limit
    assert job.wait(timeout=60) == 143
    assert (tmp_path / "step_term").exists()  # the training step got the signal and saved
    assert (tmp_path / "scontrol").read_text().split() == ["requeue", "77"]
    assert "requeued job 77" in job.stdout.read()


def test_sbatch_template_passes_a_finished_or_failed_step_through(tmp_path):
    environ = _fake_slurm(tmp_path, "exit ${STEP_STATUS:-0}")
    for status in (0, 1):
        finished = subprocess.run(["bash", "common/tools/slurm_train.sbatch", "projects.masnet.main"], cwd=REPO,
                                  env={**environ, "STEP_STATUS": str(status)}, capture_output=True, text=True)
        assert finished.returncode == status
    assert not (tmp_path / "scontrol").exists()


def test_distributed_run_leaves_the_process_group_it_joined_and_no_other(monkeypatch):
    import torch.distributed as dist

    from common import distributed

    def join(device: str) -> distributed.DistInfo:  # a one-process gloo group, as torchrun with one rank gives
        if not dist.is_initialized():
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
        return distributed.DistInfo(0, 1, 0, torch.device("cpu"), "gloo")

    monkeypatch.setattr(distributed, "init_distributed", join)
    with pytest.raises(RuntimeError, match="stops the run"):
        with distributed.distributed_run("cpu"):
            assert dist.is_initialized()
            raise RuntimeError("an error that stops the run")
    assert not dist.is_initialized()  # left on the way out, error or not
    join("cpu")  # a group the caller created ...
    try:
        with distributed.distributed_run("cpu"):
            pass
        assert dist.is_initialized()  # ... stays
    finally:
        dist.destroy_process_group()
