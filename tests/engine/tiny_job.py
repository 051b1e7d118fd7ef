"""A tiny training job for the engine tests: in-memory uint8 clips, a small model, the real Trainer.

Imported by the tests (``load_tiny_job()`` in each test file) and also run as a script under ``torchrun`` for
the DDP equivalence test::

    python -m torch.distributed.run --nproc-per-node 2 tests/engine/tiny_job.py --output-dir D --batch-size 4 ...

At the end the main process writes ``final.pt``: the model state, the step, and the multi-view test scores
(``common.engine.evaluate.multiview_test``) of a small 3-view test set.
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

from common.engine.multiview import MultiViewTestMeter  # noqa: E402
from common.data.loader import ShardedSampler  # noqa: E402
from common.distributed import cleanup, init_distributed, seed_everything  # noqa: E402
from common.engine.batch import ClipPreprocessor  # noqa: E402
from common.engine.cli import add_engine_args, per_process_batch_size  # noqa: E402
from common.engine.evaluate import multiview_test  # noqa: E402
from common.engine.param_groups import no_decay_param_groups  # noqa: E402
from common.engine.schedules import LRSchedule, multistep  # noqa: E402
from common.engine.trainer import Trainer  # noqa: E402

NUM_CLASSES = 5
CLIP_SHAPE = (3, 2, 6, 6)  # [C, T, H, W]


class TinyClips(Dataset):
    """Random uint8 clips whose label depends on the mean brightness of one channel (learnable)."""

    def __init__(self, size: int, seed: int = 0, views: int = 1) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.clips = torch.randint(0, 256, (size, *CLIP_SHAPE), dtype=torch.uint8, generator=generator)
        self.labels = (self.clips[:, 0].float().mean(dim=(1, 2, 3)) / 256 * NUM_CLASSES).long()
        self.views = views

    def __len__(self) -> int:
        return len(self.clips) * self.views

    def __getitem__(self, index: int) -> dict[str, Any]:
        video, view = divmod(index, self.views)
        return {"clip": self.clips[video], "label": self.labels[video], "video_index": video, "view_index": view}


class TinyNet(nn.Module):
    """Conv3d + optional dropout + linear head; no batch statistics (so DDP and one process agree exactly)."""

    def __init__(self, dropout: float = 0.0, batch_norm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=(1, 3, 3), padding=(0, 1, 1))
        self.norm = nn.BatchNorm3d(8) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(8, NUM_CLASSES)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.norm(self.conv(clip))).mean(dim=(2, 3, 4))  # [B, 8]
        return self.head(self.dropout(features))


def make_loader(dataset: Dataset, batch_size: int, train: bool, seed: int = 0) -> DataLoader:
    """A rank-sharded loader (in-process loading), as ``common.data.loader.build_loader`` builds for videos."""
    sampler = ShardedSampler(len(dataset), shuffle=train, seed=seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=train,
                      generator=torch.Generator().manual_seed(seed))


def build_trainer(args: argparse.Namespace, train_size: int = 24, val_size: int = 10, dropout: float = 0.0,
                  loss_fn=nn.functional.cross_entropy, dist_info=None, lr: float = 0.2) -> Trainer:
    """The Trainer of this tiny job (seeded, so two calls with equal arguments start from equal weights)."""
    world = dist_info.world_size if dist_info is not None else 1
    torch.manual_seed(args.seed)
    model = TinyNet(dropout)
    optimizer = torch.optim.SGD(no_decay_param_groups(model, 1e-3), lr=lr, momentum=0.9)
    schedule = LRSchedule(multistep(lr, [2]), lr, warmup_epochs=0.5, warmup_start_lr=lr / 10)
    batch = per_process_batch_size(args.batch_size, world)
    train_loader = make_loader(TinyClips(train_size, seed=1), batch, train=True, seed=args.seed)
    val_loader = make_loader(TinyClips(val_size, seed=2), batch, train=False)
    return Trainer(model, optimizer, schedule, loss_fn, train_loader, args, val_loader=val_loader,
                   preprocess=ClipPreprocessor((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)), dist_info=dist_info)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tiny engine job (tests)")
    add_engine_args(parser)
    args = parser.parse_args(argv)
    info = init_distributed("cpu")
    seed_everything(args.seed + info.rank, deterministic=args.deterministic)
    trainer = build_trainer(args, dist_info=info)
    result = trainer.fit()
    views = make_loader(TinyClips(7, seed=3, views=3), 2, train=False)
    meter = MultiViewTestMeter(7, 3, NUM_CLASSES, aggregate="sum", score="softmax")
    multiview_test(trainer.model, views, meter, trainer.preprocess, trainer.device, show_progress=False)
    if info.is_main:
        torch.save({"model": trainer.model.state_dict(), "step": result.step, "world_size": info.world_size,
                    "view_scores": torch.from_numpy(meter.scores[""]), "received": torch.from_numpy(meter.received),
                    "top1": meter.metrics()["top1"]}, Path(args.output_dir) / "final.pt")
    cleanup()


if __name__ == "__main__":
    main()
