"""Wall time of training to a fixed epoch budget with and without multigrid (a small 3-D CNN, CPU by default).

    python -m benchmarks.multigrid_speed                  # writes results/multigrid_cpu.md and .json
    python -m benchmarks.multigrid_speed --tiny --out /tmp/m   # CI smoke: a few clips

The baseline trains ``--epochs`` epochs at the default shape (``--frames`` x ``--crop``², global batch
``--batch-size``, one lr step at 3/4 of the run). The multigrid runs take the same base schedule through
:func:`common.engine.multigrid.multigrid_plan` (long cycle, short cycle, both), which trains 1.5x the epochs in
fewer, bigger-batch iterations of smaller clips. Every run uses the real :class:`~common.engine.trainer.Trainer`
on the same in-memory uint8 clips (no decoding, no checkpoint writes: the time is the model's), and reports wall
time, optimiser steps, clips seen and the top-1 on a held-out set of the same synthetic task (a sanity check, not
an accuracy claim).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from benchmarks.environment import format_table, results_dir, torch_cpu_settings, write_json, write_markdown
from common.data.loader import ShardedSampler
from common.engine.batch import ClipPreprocessor
from common.engine.cli import engine_defaults
from common.engine.multigrid import ClipShape, multigrid_plan
from common.engine.multigrid_loop import MultigridTraining
from common.engine.schedules import LRSchedule, steps_with_relative_lrs
from common.engine.trainer import Trainer

COLUMNS = ("run", "epochs", "steps", "clips_seen", "wall_s", "speedup", "val_top1")
CLASSES = 4


class MovingBlobs(Dataset):
    """uint8 clips ``[3, T, S, S]``: noise plus a bright square moving in one of four directions (the label)."""

    def __init__(self, size: int, frames: int, crop: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.clips = torch.randint(0, 96, (size, 3, frames, crop, crop), dtype=torch.uint8, generator=generator)
        self.labels = torch.randint(0, CLASSES, (size,), generator=generator)
        side = crop // 4
        for index, label in enumerate(self.labels.tolist()):
            dy, dx = ((0, 1), (0, -1), (1, 0), (-1, 0))[label]
            for t in range(frames):
                y = (crop // 2 - side // 2 + dy * t * crop // (2 * frames)) % (crop - side)
                x = (crop // 2 - side // 2 + dx * t * crop // (2 * frames)) % (crop - side)
                self.clips[index, :, t, y:y + side, x:x + side] = 255
        self.frames, self.rate, self.crop = frames, 1, crop

    def view(self, frames: int, rate: int, crop: int) -> "MovingBlobs":
        """The same clips at ``frames`` frames with stride ``rate``, centre ``crop``."""
        other = MovingBlobs.__new__(MovingBlobs)
        other.clips, other.labels, other.frames, other.rate, other.crop = self.clips, self.labels, frames, rate, crop
        return other

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        top = (self.clips.shape[-1] - self.crop) // 2
        clip = self.clips[index, :, :self.frames * self.rate:self.rate, top:top + self.crop, top:top + self.crop]
        return {"clip": clip, "label": self.labels[index]}


class SmallCNN(nn.Module):
    """Three strided Conv3d + BN + ReLU blocks, global pooling, linear head (takes any frames and crop)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layers, channels = [], 3
        for out, kernel, stride in ((width, (1, 3, 3), (1, 2, 2)), (2 * width, (3, 3, 3), (1, 2, 2)),
                                    (4 * width, (3, 3, 3), (2, 2, 2))):
            layers += [nn.Conv3d(channels, out, kernel, stride, tuple(k // 2 for k in kernel), bias=False),
                       nn.BatchNorm3d(out), nn.ReLU(inplace=True)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, CLASSES)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(clip).mean(dim=(2, 3, 4)))  # [B, classes]


def run(name: str, args: argparse.Namespace, data: MovingBlobs, val: MovingBlobs, output: Path) -> dict[str, Any]:
    long_cycle, short_cycle = "long" in name, "short" in name
    steps = [0, int(args.epochs * 0.75)]
    config = engine_defaults(output_dir=str(output / name), batch_size=args.batch_size, workers=0, seed=0,
                             no_progress=True, log_every=10 ** 6, device="cpu", eval_every=10 ** 6)
    torch.manual_seed(0)
    model = SmallCNN(args.width)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    val_loader = DataLoader(val, batch_size=args.batch_size)
    preprocess = ClipPreprocessor((0.45,) * 3, (0.225,) * 3)
    hook = None
    if long_cycle or short_cycle:
        plan = multigrid_plan(steps, args.epochs, args.batch_size, args.frames, args.crop, 1, long_cycle, short_cycle,
                              relative_lrs=[1, 0.1])

        def dataset_for(shape: ClipShape, crop: int) -> Dataset:
            return data.view(shape.frames, shape.sampling_rate, crop)

        hook = MultigridTraining(plan, dataset_for, seed=0, epoch_tagged=False, log=lambda message: None)
        schedule, config.epochs = plan.lr_schedule(args.lr, 1, args.lr / 10), plan.epochs
        train_loader = None
    else:
        schedule = LRSchedule(steps_with_relative_lrs(args.lr, steps, [1, 0.1]), args.lr, 1, args.lr / 10)
        config.epochs = args.epochs
        train_loader = DataLoader(data, args.batch_size, sampler=ShardedSampler(len(data), True, 0), drop_last=True)
    clips = {"seen": 0}

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        clips["seen"] += logits.shape[0] if model.training else 0
        return nn.functional.cross_entropy(logits, targets)

    trainer = Trainer(model, optimizer, schedule, loss_fn, train_loader, config, val_loader=val_loader,
                      preprocess=preprocess, multigrid=hook)
    trainer.save_checkpoint = lambda *a, **k: None  # timed: training and the final validation, not disk writes
    start = time.perf_counter()
    result = trainer.fit()
    wall = time.perf_counter() - start
    return {"run": name, "epochs": config.epochs, "steps": result.step, "clips_seen": clips["seen"],
            "wall_s": round(wall, 2), "val_top1": round(result.last_validation.get("top1", float("nan")), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8, help="base epoch budget (multigrid trains 1.5x)")
    parser.add_argument("--clips", type=int, default=512, help="training clips (held-out: a quarter)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--runs", nargs="+", default=["baseline", "long+short", "long", "short"])
    parser.add_argument("--tiny", action="store_true", help="a few clips and epochs (CI smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs, args.clips, args.crop, args.width, args.batch_size = 4, 64, 16, 4, 4
    data = MovingBlobs(args.clips, args.frames, args.crop, seed=1)
    val = MovingBlobs(max(args.clips // 4, 8), args.frames, args.crop, seed=2)
    rows = []
    with torch_cpu_settings(args.threads), tempfile.TemporaryDirectory() as scratch:
        for name in args.runs:
            rows.append(run(name, args, data, val, Path(scratch)))
            print(format_table(rows[-1:], COLUMNS))
    baseline = next((row["wall_s"] for row in rows if row["run"] == "baseline"), None)
    for row in rows:
        row["speedup"] = round(baseline / row["wall_s"], 2) if baseline else None
    settings = {key: value for key, value in vars(args).items() if key not in ("out",)}
    directory = results_dir(args.out, args.tiny)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "multigrid_cpu.json", "multigrid_speed", settings, rows)
    notes = (f"Base schedule: {args.epochs} epochs, lr step at epoch {int(args.epochs * 0.75)}, global batch "
             f"{args.batch_size}, {args.frames}x{args.crop}x{args.crop} clips, in-memory (no decoding). Multigrid runs "
             "train 1.5x the epochs (PySlowFast EPOCH_FACTOR); speedup = baseline wall time / run wall time; val_top1 "
             "on held-out clips of the same synthetic task (moving-square direction).")
    write_markdown(directory / "multigrid_cpu.md", "Multigrid: wall time to a fixed epoch budget", settings, rows,
                   COLUMNS, notes)
    print(format_table(rows, COLUMNS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
