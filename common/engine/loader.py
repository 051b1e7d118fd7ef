"""Epoch bookkeeping of training loaders: shuffle order, worker seeds and mid-epoch resume.

Loaders come from ``common.data.datasets.build_loader`` (video datasets) or any ``DataLoader`` whose sampler is a
:class:`~common.distributed.ShardedSampler`; with such a sampler the trainer resumes inside an epoch by skipping
the already-seen samples in the sampler instead of decoding them. Worker seeds are drawn from the loader's own
generator, which :func:`set_loader_epoch` reseeds from ``seed`` and the epoch, so they neither depend on nor
consume the global torch RNG.
"""
from __future__ import annotations

from torch.utils.data import DataLoader

from common.data.short_cycle import ShortCycleBatchSampler
from common.distributed import ShardedSampler


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
