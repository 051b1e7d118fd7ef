"""A tiny multigrid training job for the tests: in-memory uint8 clips, a Conv3d + BN model, the real Trainer.

Imported by ``tests/engine/test_multigrid_training.py`` and run under ``torchrun`` for the DDP test::

    python -m torch.distributed.run --nproc-per-node 2 tests/engine/multigrid_job.py --output-dir D ...

Default clip shape 8 frames x 16 x 16, global batch 8, base schedule lr steps [0, 6] over 8 epochs: the long
cycle trains 12 epochs in five phases (batch x8 / 2 frames / crop 11, x4 / 4 / 11, x2 / 4 / 16, x1 / 8 / 16 and
the fine-tuning phase). The main process writes ``final.pt`` (model state, step, phases seen).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, when run as a script

from common.data.loader import ShardedSampler  # noqa: E402
from common.distributed import cleanup, init_distributed, seed_everything  # noqa: E402
from common.engine.batch import ClipPreprocessor  # noqa: E402
from common.engine.cli import add_engine_args, per_process_batch_size  # noqa: E402
from common.engine.multigrid import ClipShape, add_multigrid_args, plan_from_config  # noqa: E402
from common.engine.multigrid_loop import MultigridTraining  # noqa: E402
from common.engine.trainer import Trainer  # noqa: E402

NUM_CLASSES = 4
FRAMES, SIZE = 8, 16


class Clips(Dataset):
    """Random uint8 clips (label from one channel's brightness), shown at a phase's frames, rate and crop."""

    def __init__(self, size: int, frames: int = FRAMES, rate: int = 1, crop: int = SIZE, seed: int = 1) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.clips = torch.randint(0, 256, (size, 3, FRAMES, SIZE, SIZE), dtype=torch.uint8, generator=generator)
        self.labels = (self.clips[:, 0].float().mean(dim=(1, 2, 3)) / 256 * NUM_CLASSES).long().clamp(max=3)
        self.frames, self.rate, self.crop = frames, rate, crop

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        top = (SIZE - self.crop) // 2
        clip = self.clips[index, :, :self.frames * self.rate:self.rate, top:top + self.crop, top:top + self.crop]
        return {"clip": clip, "label": self.labels[index]}  # clip [3, frames, crop, crop]


class Net(nn.Module):
    """Conv3d + BN + global pooling + linear: any number of frames and any crop."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=(1, 3, 3), padding=(0, 1, 1))
        self.bn = nn.BatchNorm3d(8)
        self.head = nn.Linear(8, NUM_CLASSES)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(clip))).mean(dim=(2, 3, 4)))  # [B, classes]


def build_trainer(args: argparse.Namespace, dist_info=None, train_size: int = 128) -> Trainer:
    rank, world = (dist_info.rank, dist_info.world_size) if dist_info is not None else (0, 1)
    vars(args).update(num_frames=FRAMES, crop_size=SIZE, sampling_rate=1)
    base_epochs = args.epochs
    plan = plan_from_config(args, [0, 6]) if args.multigrid_long or args.multigrid_short else None
    torch.manual_seed(args.seed)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    data = Clips(train_size)

    def dataset_for(shape: ClipShape, crop: int) -> Dataset:
        view = Clips.__new__(Clips)
        view.clips, view.labels = data.clips, data.labels
        view.frames, view.rate, view.crop = shape.frames, shape.sampling_rate, crop
        return view

    if plan is None:
        from common.engine.schedules import LRSchedule, steps_with_relative_lrs

        schedule = LRSchedule(steps_with_relative_lrs(0.05, [0, 6], [1, 0.1]), 0.05, 1, 0.005)
        loader = DataLoader(data, per_process_batch_size(args.batch_size, world), drop_last=True,
                            sampler=ShardedSampler(len(data), True, args.seed), num_workers=args.workers,
                            generator=torch.Generator().manual_seed(args.seed))
        return Trainer(model, optimizer, schedule, nn.functional.cross_entropy, loader, args,
                       preprocess=ClipPreprocessor((0.5,) * 3, (0.25,) * 3), dist_info=dist_info)
    args.epochs = plan.epochs
    hook = MultigridTraining(plan, dataset_for, rank=rank, world_size=world, workers=args.workers,
                             persistent_workers=args.workers > 0, seed=args.seed, epoch_tagged=False)
    trainer = Trainer(model, optimizer, plan.lr_schedule(0.05, 1, 0.005), nn.functional.cross_entropy, None, args,
                      preprocess=ClipPreprocessor((0.5,) * 3, (0.25,) * 3), dist_info=dist_info, multigrid=hook)
    trainer.base_epochs = base_epochs
    return trainer


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description="tiny multigrid job (tests)")
    add_engine_args(result)
    add_multigrid_args(result)
    return result


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    info = init_distributed("cpu")
    seed_everything(args.seed + info.rank, deterministic=args.deterministic)
    trainer = build_trainer(args, dist_info=info)
    result = trainer.fit()
    state = trainer.model.state_dict()
    if info.is_main:
        torch.save({"model": state, "step": result.step, "world_size": info.world_size},
                   Path(args.output_dir) / "final.pt")
    cleanup()


if __name__ == "__main__":
    main()
