"""The training half of the bad-sample policy: the fraction counts over the whole epoch, across workers and ranks.

A training item that had to replace unreadable videos carries their descriptions (file, list line, reason) in its
``bad_samples`` field (:class:`common.data.datasets.VideoClipDataset`), so the failures of every DataLoader worker
reach the main process with the batches. :class:`BadSampleLedger` writes each one to the run's ``log.txt``, sums
them over ranks, and stops the run (:class:`TooManyBadSamplesError`) as soon as more than ``--max-bad-fraction`` of
the epoch's loads must fail: with ``N`` clips in the epoch and ``F`` failures (each one costs a replacement load),
the fraction is ``F / (N + F)``, which exceeds ``p`` exactly when ``F > p N / (1 - p)``. Every epoch ends with a
count in the log. ``--bad-sample-retries`` is how many replacements one item may try before the run stops.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from common.data.datasets import BadSamplePolicy, TooManyBadSamplesError
from common.distributed import all_gather_object, all_reduce_sum


class BadSampleLedger:
    """Counts the training set's failed loads of one epoch over workers and ranks, logs them, enforces the limit.

    Args:
        max_fraction: largest tolerated fraction of failed loads in an epoch (``--max-bad-fraction``).
        retries: replacement loads one item may try (``--bad-sample-retries``).
        log: the run log (main process).
        rank, distributed, device: where this process sits; counts are summed over ranks when ``distributed``.
    """

    def __init__(self, max_fraction: float, retries: int, log: Callable[[str], None], *, rank: int = 0,
                 distributed: bool = False, device: torch.device | str = "cpu") -> None:
        if not 0 <= max_fraction <= 1:
            raise ValueError(f"--max-bad-fraction must be in [0, 1], got {max_fraction}")
        if retries < 0:
            raise ValueError(f"--bad-sample-retries must be >= 0, got {retries}")
        self.max_fraction, self.retries, self.log = max_fraction, retries, log
        self.rank, self.distributed, self.device = rank, distributed, torch.device(device)
        self.epoch, self.samples, self.failures = -1, 0, 0  # failures: summed over ranks up to the last sync
        self.unsynced = 0  # this rank's failures since the last sync
        self.unlogged: list[str] = []  # other ranks' descriptions, logged by the main process at the next flush
        self.batches, self.sync_every = 0, 20  # add() syncs every 20 batches (every rank sees as many batches)

    @classmethod
    def for_run(cls, config: Any, info: Any, log: Callable[[str], None]) -> "BadSampleLedger":
        """From the engine flags (their defaults when a hand-made config lacks them) and a ``DistInfo``."""
        return cls(getattr(config, "max_bad_fraction", 0.05), getattr(config, "bad_sample_retries", 10), log,
                   rank=info.rank, distributed=info.distributed, device=info.device)

    def start_epoch(self, epoch: int, loader: Any, batches: int, world_size: int = 1) -> None:
        """Before the epoch's loader iterator (and its workers) starts: a dataset with a :class:`BadSamplePolicy`
        gets the limit and the retries. ``batches``: this rank's batches in the epoch; the epoch's clips over all
        ranks follow (a multigrid batch sampler states its own count). A resumed epoch keeps its count."""
        clips = getattr(getattr(loader, "batch_sampler", None), "epoch_samples", None)
        self.samples = world_size * (clips or batches * (getattr(loader, "batch_size", None) or 1))
        policy = getattr(getattr(loader, "dataset", None), "policy", None)
        if isinstance(policy, BadSamplePolicy):
            policy.max_retries, policy.max_fail_fraction = self.retries, self.max_fraction
        if epoch != self.epoch:
            self.epoch, self.failures = epoch, 0

    @property
    def limit(self) -> float:
        """The most failures the epoch may have (more would make the fraction exceed ``max_fraction``)."""
        if self.max_fraction >= 1:
            return math.inf
        return self.max_fraction * self.samples / (1 - self.max_fraction)

    def add(self, batch: Any) -> None:
        """Record the failures a training batch carries (``batch["bad_samples"]``: one string per item, the
        item's failures separated by newlines); every ``sync_every`` batches, :meth:`sync` (collective)."""
        carried = batch.get("bad_samples", ()) if isinstance(batch, dict) else ()
        messages = [line for text in carried for line in str(text).split("\n") if line]
        self.unsynced += len(messages)
        if self.rank == 0:
            for message in messages:
                self.log(f"bad sample skipped (epoch {self.epoch + 1}): {message}")
        else:
            self.unlogged += messages
        self.batches += 1
        if self.batches % self.sync_every == 0:
            self.sync()

    def sync(self) -> None:
        """Sum the new failures over ranks and stop the run when the epoch can no longer stay under the limit
        (collective when distributed: call it at the same step on every rank)."""
        new = torch.tensor([float(self.unsynced)])
        if self.distributed:
            new = all_reduce_sum(new.to(self.device)).cpu()
        self.failures += int(new.item())
        self.unsynced = 0
        if self.failures > self.limit:
            self._flush()
            raise TooManyBadSamplesError(
                f"{self.failures} sample loads failed in epoch {self.epoch + 1} of {self.samples} clips: more than "
                f"--max-bad-fraction {self.max_fraction} of its loads. The files and reasons are in the run's "
                f"log.txt; check the list with `python -m common.tools.check_videos --list ...`, fix or drop "
                f"them, or raise --max-bad-fraction")

    def end_epoch(self) -> None:
        """Sync, log the other ranks' failures and the epoch's count (collective when distributed)."""
        self.sync()
        self._flush()
        loads = self.samples + self.failures
        self.log(f"epoch {self.epoch + 1}: {self.failures} of {loads} sample loads failed and were replaced "
                 f"({self.failures / max(loads, 1):.2%}; --max-bad-fraction {self.max_fraction:.2%})")

    def _flush(self) -> None:
        if self.distributed:
            for rank, messages in enumerate(all_gather_object(self.unlogged)):
                for message in messages if self.rank == 0 and rank > 0 else ():
                    self.log(f"bad sample skipped on rank {rank} (epoch {self.epoch + 1}): {message}")
        self.unlogged = []

    def state_dict(self) -> dict[str, int]:
        """The epoch's count as of the last :meth:`sync` (at most ``sync_every`` batches old)."""
        return {"epoch": self.epoch, "failures": self.failures}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.failures = state["epoch"], state["failures"]
