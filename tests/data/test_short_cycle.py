"""Short-cycle batch sampler: batch sizes per cycle, exact length, mid-epoch skipping, dispatch by crop."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from common.data.short_cycle import ShortCycleBatchSampler, ShortCycleDataset
from common.data.loader import ShardedSampler
from common.data.loader import batches_per_epoch, set_loader_epoch


def test_batches_cycle_through_three_sizes_and_tag_items():
    sampler = ShardedSampler(30, shuffle=False, rank=0, world_size=1)
    batches = list(ShortCycleBatchSampler(sampler, 2, (4, 2, 1)))
    assert [len(b) for b in batches] == [8, 4, 2, 8, 4, 2]  # 28 items; the last 2 cannot fill a batch of 8
    assert [b[0][0] for b in batches] == [0, 1, 2, 0, 1, 2]
    assert [item for batch in batches for _, item in batch] == list(range(28))
    assert len(ShortCycleBatchSampler(sampler, 2, (4, 2, 1))) == len(batches)
    assert ShortCycleBatchSampler(sampler, 2, (4, 2, 1)).epoch_samples == 28
    keep = ShortCycleBatchSampler(sampler, 2, (4, 2, 1), drop_last=False)
    assert [len(b) for b in keep] == [8, 4, 2, 8, 4, 2, 2] and len(keep) == 7


@pytest.mark.parametrize("size", [11, 13, 25])
def test_length_is_exact(size):
    sampler = ShardedSampler(size, shuffle=True, seed=3, rank=0, world_size=1)
    batch_sampler = ShortCycleBatchSampler(sampler, 2, (2, 1, 1))
    assert len(batch_sampler) == len(list(batch_sampler))


def test_skipping_batches_resumes_the_same_sequence():
    sampler = ShardedSampler(40, shuffle=True, seed=5, rank=0, world_size=1)
    batch_sampler = ShortCycleBatchSampler(sampler, 2, (4, 2, 1))
    batch_sampler.set_epoch(3)
    full = list(batch_sampler)
    batch_sampler.set_epoch(3, start_batch=4)
    assert list(batch_sampler) == full[4:]
    batch_sampler.set_epoch(4)
    assert list(batch_sampler) != full


class Crops(Dataset):
    def __init__(self, crop: int) -> None:
        self.crop = crop

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int):
        return {"clip": torch.full((3, 2, self.crop, self.crop), index, dtype=torch.uint8), "label": index}


def test_loader_gives_each_cycle_its_crop_and_skips_through_set_loader_epoch():
    dataset = ShortCycleDataset([Crops(4), Crops(6), Crops(8)])
    sampler = ShardedSampler(len(dataset), shuffle=True, seed=1, rank=0, world_size=1)
    loader = DataLoader(dataset, batch_sampler=ShortCycleBatchSampler(sampler, 1, (4, 2, 1)))
    assert batches_per_epoch(loader, 0, seed=0) == 4
    assert set_loader_epoch(loader, 0, seed=0) == 0
    shapes = [tuple(batch["clip"].shape) for batch in loader]
    assert shapes == [(4, 3, 2, 4, 4), (2, 3, 2, 6, 6), (1, 3, 2, 8, 8), (4, 3, 2, 4, 4)]
    set_loader_epoch(loader, 0, seed=0, skip_batches=2)
    assert [tuple(batch["clip"].shape) for batch in loader] == shapes[2:]
    with pytest.raises(ValueError, match="same items"):
        ShortCycleDataset([Crops(4), Crops(6), _Short(8)])


class _Short(Crops):
    def __len__(self) -> int:
        return 5


def test_short_cycle_datasets_share_one_bad_sample_policy():
    from common.data.datasets import BadSamplePolicy

    datasets = [Crops(4), Crops(6), Crops(8)]
    for dataset in datasets:
        dataset.policy = BadSamplePolicy()
    wrapped = ShortCycleDataset(datasets)
    wrapped.policy.max_retries = 3  # what the trainer's bad-sample ledger does with the loader's dataset
    assert all(dataset.policy.max_retries == 3 for dataset in datasets)
