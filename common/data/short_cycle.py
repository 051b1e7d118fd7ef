"""Multigrid in the loader: the short cycle's batch sampler (three crop sizes, one per batch) and the long
cycle's random sampling rate (:class:`RandomRateSampler`).

Iteration ``i`` of an epoch uses short shape ``i % 3``: crops ``0.5`` and ``1/sqrt2`` of the *default* crop with
batches ``round((phase crop / short crop)**2)`` times bigger, then the phase's own crop and batch (see
:func:`common.engine.multigrid.short_cycle_batch_factors`). The batch sampler yields ``(cycle, item)`` pairs;
:class:`ShortCycleDataset` sends each to the dataset built for that crop (the recipe builds the three, e.g. with
the jitter range scaled with the crop as PySlowFast does), so workers need no shared state.

Differences from PySlowFast's ``ShortCycleBatchSampler``, kept small on purpose:

* ``len()`` is the exact number of batches an epoch yields (the reference's ``floor(N / mean batch)`` can count one
  batch more than it yields), so the per-iteration lr position and the progress bar are right;
* ``set_epoch(epoch, start_batch)`` skips the first batches of an epoch without loading them, for an exact
  mid-epoch resume (the wrapped sampler must accept ``set_epoch(epoch, start=samples)``, as
  :class:`~common.data.loader.ShardedSampler` does).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import numpy as np

from torch.utils.data import Dataset, Sampler


class ShortCycleBatchSampler(Sampler[list]):
    """Batches of ``batch_size * factors[i % 3]`` items of ``sampler``, each item tagged with its cycle ``i % 3``.

    Args:
        sampler: the per-process sample order (a ``ShardedSampler`` or ``EpochTaggedSampler``).
        batch_size: the phase's per-process batch (the third short shape's).
        factors: batch multipliers of the three short shapes (the last is 1).
        drop_last: drop a last, incomplete batch (training: True, as PySlowFast).
    """

    def __init__(self, sampler: Sampler, batch_size: int, factors: Sequence[int], drop_last: bool = True) -> None:
        if batch_size < 1 or len(factors) != 3 or min(factors) < 1:
            raise ValueError(f"need a positive batch size and three positive factors, got {batch_size}, {factors}")
        self.sampler = sampler
        self.batch_sizes = [batch_size * factor for factor in factors]
        self.drop_last = drop_last
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Shuffle for ``epoch`` and start at batch ``start_batch`` (its items are skipped in the sampler)."""
        self.start_batch = start_batch
        skipped = sum(self.batch_sizes[i % 3] for i in range(start_batch))
        self.sampler.set_epoch(epoch, start=0)
        if start_batch:
            self.sampler.set_epoch(epoch, start=min(skipped, len(self.sampler)))

    def _sizes(self, items: int, first: int) -> Iterator[int]:
        """Batch sizes of an epoch of ``items`` items starting at cycle position ``first``."""
        index = first
        while items > 0:
            size = self.batch_sizes[index % 3]
            if size > items and self.drop_last:
                return
            yield min(size, items)
            items -= size
            index += 1

    def __iter__(self) -> Iterator[list[tuple[int, Any]]]:
        index = self.start_batch
        batch: list[tuple[int, Any]] = []
        for item in self.sampler:
            batch.append((index % 3, item))
            if len(batch) == self.batch_sizes[index % 3]:
                yield batch
                batch = []
                index += 1
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        return sum(1 for _ in self._sizes(len(self.sampler), self.start_batch))

    @property
    def epoch_samples(self) -> int:
        """Items in a whole epoch's batches (the batch sizes vary, so not ``len(self) * batch size``)."""
        return sum(self._sizes(len(self.sampler) + sum(self.batch_sizes[i % 3] for i in range(self.start_batch)), 0))


class ShortCycleDataset(Dataset):
    """Sends ``(cycle, item)`` to ``datasets[cycle]`` (one dataset per short-cycle crop, same records)."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        if len(datasets) != 3:
            raise ValueError(f"a short cycle has three shapes, got {len(datasets)} datasets")
        lengths = {len(dataset) for dataset in datasets}
        if len(lengths) != 1:
            raise ValueError(f"the short-cycle datasets must hold the same items, got lengths {sorted(lengths)}")
        self.datasets = list(datasets)
        policy = getattr(self.datasets[-1], "policy", None)
        if policy is not None:  # one bad-sample policy for the three (the trainer sets its limits on ``.policy``)
            self.policy = policy
            for dataset in self.datasets:
                dataset.policy = policy

    def __len__(self) -> int:
        return len(self.datasets[-1])

    def __getitem__(self, item: tuple[int, Any]) -> Any:
        cycle, inner = item
        return self.datasets[cycle][inner]

    def set_epoch(self, epoch: int) -> None:
        for dataset in self.datasets:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)


class RandomRateSampler:
    """Frame sampler of a long-cycle phase with fewer frames than the default: every training clip draws its
    sampling rate uniformly in ``[low, high]`` (PySlowFast's ``get_random_sampling_rate``), so some clips cover
    the default time span; test indices use ``low``.

    Args:
        make_sampler: ``rate -> frame sampler`` (e.g. ``lambda r: SlowFastClipSampler(4, r)``).
        low, high: the phase's rate range (:class:`~common.engine.multigrid.ClipShape` ``sampling_rate``,
            ``max_sampling_rate``).
    """

    def __init__(self, make_sampler: Callable[[int], Any], low: int, high: int) -> None:
        if not 1 <= low <= high:
            raise ValueError(f"need 1 <= low <= high, got {low}, {high}")
        self.low, self.high = low, high
        self.samplers = {rate: make_sampler(rate) for rate in range(low, high + 1)}
        self.num_test_clips = self.samplers[low].num_test_clips

    def train_indices(self, num_frames: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
        rate = int(rng.integers(self.low, self.high + 1))
        return self.samplers[rate].train_indices(num_frames, rng, fps=fps)

    def test_indices(self, num_frames: int, clip_index: int, fps: float | None = None) -> np.ndarray:
        return self.samplers[self.low].test_indices(num_frames, clip_index, fps=fps)
