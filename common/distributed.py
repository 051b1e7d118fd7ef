"""Distributed initialisation (torchrun env:// and Slurm), rank helpers and collectives.

Launch modes, detected from the environment by :func:`init_distributed`:

* ``torchrun`` (single node or several nodes): ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
  ``MASTER_PORT`` are set by torchrun and read through the ``env://`` rendezvous.
* Slurm with one task per GPU (``srun python -m projects.<p>.main ...``): ``SLURM_PROCID``, ``SLURM_NTASKS``,
  ``SLURM_LOCALID`` and ``SLURM_JOB_NODELIST`` are translated to the torchrun variables by
  :func:`slurm_env_to_torch_env` (``MASTER_ADDR`` = first host of the node list, ``MASTER_PORT`` derived from the
  job id unless set).
* Neither: one process, no process group.

Everything also works with the ``gloo`` backend on CPU, which is what the tests use.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import random
from dataclasses import dataclass
from typing import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from common.slurm import slurm_env_to_torch_env


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _resolve_device(device: str, local_rank: int) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was requested but CUDA is not available on this machine")
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(device)


def init_distributed(device: str = "auto", backend: str | None = None, timeout_minutes: int = 30) -> DistInfo:
    """Join the process group described by the environment (torchrun or Slurm), or run as one process.

    Args:
        device: ``auto`` (CUDA when available), ``cuda`` or ``cpu``. Each process takes GPU ``local_rank``.
        backend: ``nccl`` / ``gloo``; default ``nccl`` on CUDA and ``gloo`` on CPU.
        timeout_minutes: collective timeout (a hung rank fails instead of blocking forever).
    """
    if "RANK" not in os.environ and "SLURM_PROCID" in os.environ and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        os.environ.update(slurm_env_to_torch_env(dict(os.environ)))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = _resolve_device(device, local_rank)
    if world_size == 1:
        return DistInfo(0, 1, 0, resolved, None)
    backend = backend or ("nccl" if resolved.type == "cuda" else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", world_size=world_size, rank=rank,
                                timeout=datetime.timedelta(minutes=timeout_minutes))
    return DistInfo(rank, world_size, local_rank, resolved, backend)


def cleanup() -> None:
    """Leave the process group (call once at the end of ``main``)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_run(device: str = "auto") -> Iterator[DistInfo]:
    """:func:`init_distributed` for one entry point; on exit (errors included) leaves the process group if it was
    joined here, and leaves a group the caller had created alone."""
    joined_here = dist.is_available() and not dist.is_initialized()
    info = init_distributed(device)
    try:
        yield info
    finally:
        if joined_here:
            cleanup()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` without a process group."""
    if not is_distributed():
        return [obj]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def gather_to_main(obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` on rank 0 (in rank order), ``None`` elsewhere; ``[obj]`` without a process group.

    Unlike :func:`all_gather_object`, only rank 0 holds all the objects (test scores can be large).
    """
    if not is_distributed():
        return [obj]
    gathered: list[Any] | None = [None] * get_world_size() if get_rank() == 0 else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over ranks (in place and returned); identity without a process group."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def convert_sync_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every BatchNorm with SyncBatchNorm (batch statistics over all ranks); no-op on one process."""
    if not is_distributed():
        return model
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (all devices); ``deterministic`` also selects deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=False)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.backends.cudnn.benchmark = True
