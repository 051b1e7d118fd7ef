"""Data loaders: the rank-sharded resumable sampler, worker seeding, ``build_loader`` and per-epoch bookkeeping.

Everything about the order and seeding of samples lives here, in one place:

* :class:`ShardedSampler`: this process's share of a dataset, a seeded shuffle per epoch, mid-epoch resume by
  skipping the already-seen items in the sampler instead of decoding them; :class:`EpochTaggedSampler` yields
  ``(epoch, index)`` so the datasets of ``common.data.datasets`` seed every item from its epoch, even in persistent
  workers.
* :func:`worker_init_fn`: one intra-op thread per worker, numpy and ``random`` seeded from the worker's torch seed.
* :func:`build_loader`: the DataLoader of a clip dataset for this process (DDP-aware).
* :func:`set_loader_epoch` / :func:`batches_per_epoch`: what the trainer calls every epoch (shuffle order, worker
  seeds, skipping on resume). Worker seeds are drawn from the loader's own generator, which
  :func:`set_loader_epoch` reseeds from ``seed`` and the epoch, so they neither depend on nor consume the global
  torch RNG.
"""
from __future__ import annotations

import random
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from common.data.datasets import VideoClipDataset, collate_views
from common.data.short_cycle import ShortCycleBatchSampler
from common.distributed import get_rank, get_world_size

__all__ = ["ShardedSampler", "EpochTaggedSampler", "worker_init_fn", "build_loader", "set_loader_epoch",
           "batches_per_epoch"]


class ShardedSampler(Sampler[int]):
    """Rank-sharded sampler with per-epoch seeding and mid-epoch resume.

    Train (``shuffle=True``): every epoch draws one permutation from ``seed + epoch`` (the same on every rank);
    rank r takes positions r, r + world, ...; the permutation is padded by wrapping (or cut with ``drop_last``)
    so every rank gets the same count. Evaluation (``shuffle=False``): rank r takes indices r, r + world, ...
    with no padding, so no sample is counted twice (ranks may get one item more than others).

    ``set_epoch(epoch, start=k)`` skips the first ``k`` items of this rank's share: the trainer uses it to resume
    inside an epoch without decoding the skipped clips.
    """

    def __init__(self, dataset_size: int, shuffle: bool, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, drop_last: bool = False) -> None:
        self.dataset_size = dataset_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = get_rank() if rank is None else rank
        self.world_size = get_world_size() if world_size is None else world_size
        self.drop_last = drop_last
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def _rank_indices(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.rank, self.dataset_size, self.world_size))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.dataset_size, generator=generator).tolist()
        if self.drop_last:
            order = order[: len(order) - len(order) % self.world_size]
        else:
            padding = (-len(order)) % self.world_size
            order += (order * (padding // max(len(order), 1) + 1))[:padding]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rank_indices()[self.start:])

    def __len__(self) -> int:
        if not self.shuffle:
            return len(range(self.rank, self.dataset_size, self.world_size)) - self.start
        per_rank = (self.dataset_size // self.world_size if self.drop_last
                    else -(-self.dataset_size // self.world_size))
        return max(per_rank - self.start, 0)


def worker_init_fn(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one intra-op thread per worker (readers also decode with one thread, as
    the workers are the parallelism) and numpy / ``random`` seeded from the worker's torch seed."""
    torch.set_num_threads(1)
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class EpochTaggedSampler(ShardedSampler):
    """``ShardedSampler`` that yields ``(epoch, index)``, so the dataset seeds each item from its epoch even in
    persistent workers. Train: seeded shuffle, padded to equal shares per rank; test: an even split of the views
    over ranks without duplicates."""

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = self.epoch
        return ((epoch, index) for index in super().__iter__())


def build_loader(dataset: VideoClipDataset, batch_size: int, *, train: bool, num_workers: int = 4, seed: int = 0,
                 drop_last: bool | None = None, pin_memory: bool | None = None, persistent_workers: bool = False,
                 prefetch_factor: int | None = None, timeout: float = 600.0, rank: int | None = None,
                 world_size: int | None = None) -> DataLoader:
    """A DataLoader for this process's share of ``dataset`` (DDP-aware through ``common.distributed``).

    Call ``loader.sampler.set_epoch(epoch)`` (or :func:`set_loader_epoch`) every epoch: it
    reshuffles (train) and re-seeds the per-item randomness. ``timeout`` (seconds, workers only) turns a stuck
    worker into an error instead of a hang.
    """
    sampler = EpochTaggedSampler(len(dataset), shuffle=train, seed=seed, rank=rank, world_size=world_size,
                                 drop_last=False)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, collate_fn=collate_views,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        drop_last=train if drop_last is None else drop_last, worker_init_fn=worker_init_fn,
        persistent_workers=persistent_workers and num_workers > 0,
        prefetch_factor=prefetch_factor if num_workers > 0 else None,
        timeout=timeout if num_workers > 0 else 0.0,
        generator=torch.Generator().manual_seed(seed),  # worker seeds; set_loader_epoch reseeds it per epoch
    )


def set_loader_epoch(loader: DataLoader, epoch: int, seed: int, skip_batches: int = 0) -> int:
    """Prepare ``loader`` for ``epoch``: shuffle order, worker seeds, and skipping the first ``skip_batches``.

    Returns the number of batches still to be discarded by iterating (non-zero only when the sampler cannot skip by
    itself, e.g. a plain ``DistributedSampler``).
    """
    sampler = getattr(loader, "sampler", None)
    if getattr(loader, "generator", None) is not None:
        loader.generator.manual_seed(seed * 100003 + epoch)
    batch_sampler = getattr(loader, "batch_sampler", None)
    if isinstance(batch_sampler, ShortCycleBatchSampler):  # variable batch sizes: it skips whole batches itself
        batch_sampler.set_epoch(epoch, start_batch=skip_batches)
        return 0
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
