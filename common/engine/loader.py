"""DataLoaders for the engine: rank-sharded, seeded per epoch, resumable inside an epoch.

Use :func:`make_loader` for both training and validation/test sets so that DDP sharding, per-epoch shuffling and
mid-epoch resume (the trainer skips already-seen samples through :class:`~common.distributed.ShardedSampler`)
behave the same in every project. Worker seeds are drawn from a loader-owned generator that the trainer reseeds
with ``seed`` and the epoch, so they do not depend on (nor consume) the global torch RNG.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils.data import DataLoader, Dataset

from common.distributed import ShardedSampler, seed_worker


def make_loader(dataset: Dataset, batch_size: int, train: bool, workers: int = 4, seed: int = 0,
                collate_fn: Callable[[list[Any]], Any] | None = None, drop_last: bool | None = None,
                pin_memory: bool | None = None, prefetch_factor: int | None = None,
                rank: int | None = None, world_size: int | None = None) -> DataLoader:
    """A DataLoader over this process's shard of ``dataset``.

    Args:
        batch_size: per-process batch size (see :func:`common.engine.cli.per_process_batch_size`).
        train: shuffle with ``seed + epoch`` and drop the last incomplete batch (unless ``drop_last`` says
            otherwise); evaluation keeps dataset order and every sample exactly once over all ranks.
        workers: worker processes (0 = load in the main process).
        pin_memory: default: when CUDA is available (needed for non-blocking host-to-device copies).
    """
    sampler = ShardedSampler(len(dataset), shuffle=train, seed=seed, rank=rank, world_size=world_size,
                             drop_last=False)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, collate_fn=collate_fn,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        drop_last=train if drop_last is None else drop_last, worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(seed),
        prefetch_factor=prefetch_factor if workers > 0 else None,
    )


def set_loader_epoch(loader: DataLoader, epoch: int, seed: int, skip_batches: int = 0) -> int:
    """Prepare ``loader`` for ``epoch``: shuffle order, worker seeds, and skipping the first ``skip_batches``.

    Returns the number of batches still to be discarded by iterating (non-zero only when the sampler cannot skip by
    itself, e.g. a plain ``DistributedSampler``).
    """
    sampler = getattr(loader, "sampler", None)
    if getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(seed * 100003 + epoch)
    if isinstance(sampler, ShardedSampler):
        sampler.set_epoch(epoch, start=skip_batches * loader.batch_size)
        return 0
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    return skip_batches


def batches_per_epoch(loader: DataLoader, epoch: int, seed: int) -> int:
    """The full number of batches of ``epoch`` (as if nothing were skipped)."""
    set_loader_epoch(loader, epoch, seed, 0)
    return len(loader)
