"""Throughput of the common video pipeline per sampler dialect, against a naive decode-everything baseline.

    python -m benchmarks.loader_speed                     # 300-frame videos at 256p GOP 16, 256p GOP 250, 720p
    python -m benchmarks.loader_speed --tiny --out /tmp/l # CI: small videos, a few reads each

For every video kind (resolution and keyframe interval) and sampler dialect, the same list of ``(video, frame
indices)`` reads is served two ways through a ``torch.utils.data.DataLoader`` with 0, 1 and N workers:

- ``common``: ``common.data.video_reader.VideoReader(path).read(indices)`` (keyframe seek, forward decode, only
  kept frames converted to RGB);
- ``naive``: decode every frame of the file with PyAV and convert every frame to RGB, then pick the indices, as
  PySlowFast's and MMAction2's PyAV paths do.

Both return identical uint8 clips (checked). Throughput is measured from the first delivered clip to the last, so
worker start-up is excluded. Finally a short training loop of a registered tiny model reports which fraction of
its wall time is spent waiting for data (the full pipeline: records, ``VideoClipDataset``, transforms, loader).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import av
import numpy as np
import torch
from tqdm import tqdm

from benchmarks.environment import format_table, results_dir, write_json, write_markdown
from common.data.datasets import VideoClipDataset
from common.data.loader import build_loader, worker_init_fn
from common.data.device_transforms import Normalize
from common.data.samplers import MMActionSampleFrames, SlowFastClipSampler, SlowFastSegmentSampler, TSNSegmentSampler
from common.data.synthetic import SyntheticDataset, make_synthetic_dataset
from common.data.transforms import Compose, RandomCrop, ShortSideResize
from common.data.video_reader import VideoReader

COLUMNS = ("video", "dialect", "workers", "common_clips/s", "naive_clips/s", "speedup", "common_frames/s",
           "naive_frames/s")

LOADER_NOTES = ("`common`: `VideoReader.read(indices)`; `naive`: decode and convert every frame, then index (the "
                "anchors' PyAV path); identical pixels checked. clips/s from the first delivered clip to the last; "
                "speedup = common / naive in the same run.")


@dataclass(frozen=True)
class VideoKind:
    name: str
    width: int
    height: int
    gop: int


VIDEO_KINDS = (VideoKind("256p_gop16", 340, 256, 16), VideoKind("256p_gop250", 340, 256, 250),
               VideoKind("720p_gop250", 1280, 720, 250))
# One sampler per dialect in common.data.samplers, at the setting its papers train with.
DIALECTS: dict[str, Callable[[], Any]] = {
    "tsn_8seg": lambda: TSNSegmentSampler(8),  # sparse: TSM / MAS-Net / ST-ABN
    "ssv2_16seg": lambda: SlowFastSegmentSampler(16),  # sparse: Motionformer SSv2
    "slowfast_8x8": lambda: SlowFastClipSampler(8, 8, target_fps=None),  # dense clip: PySlowFast
    "mmaction_32x2": lambda: MMActionSampleFrames(32, 2, 1),  # dense clip: MMAction SampleFrames
}


def read_common(path: str, indices: np.ndarray) -> np.ndarray:
    with VideoReader(path) as reader:
        return reader.read(indices)


def read_naive(path: str, indices: np.ndarray) -> np.ndarray:
    """Decode and convert every frame, then index: the anchors' PyAV behaviour."""
    with av.open(path) as container:
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])  # [N, H, W, 3]
    return frames[indices]


class ReadDataset(torch.utils.data.Dataset):
    """A fixed list of ``(path, indices)`` reads served by one read function; items are uint8 ``[T, H, W, 3]``."""

    def __init__(self, reads: list[tuple[str, np.ndarray]], read: Callable[[str, np.ndarray], np.ndarray]) -> None:
        self.reads, self.read = reads, read

    def __len__(self) -> int:
        return len(self.reads)

    def __getitem__(self, index: int) -> torch.Tensor:
        path, indices = self.reads[index]
        return torch.from_numpy(self.read(path, indices))


def throughput(dataset: ReadDataset, workers: int) -> tuple[float, list[torch.Tensor]]:
    """Clips per second from the first delivered clip to the last (worker start-up excluded), and the clips."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                                         worker_init_fn=worker_init_fn if workers else None)
    clips, first = [], None
    for clip in loader:
        clips.append(clip)
        if first is None:
            first = time.perf_counter()
    elapsed = time.perf_counter() - first
    return (len(clips) - 1) / max(elapsed, 1e-9), clips


def make_reads(paths: list[Path], dialect: str, repeats: int, seed: int) -> list[tuple[str, np.ndarray]]:
    sampler, rng = DIALECTS[dialect](), np.random.default_rng(seed)
    reads = []
    for _ in range(repeats):
        for path in paths:
            # From the container header, not a VideoReader: the first read of each video pays for its packet index.
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                num_frames, fps = stream.frames, float(stream.average_rate)
            reads.append((str(path), sampler.train_indices(num_frames, rng, fps=fps)))
    return reads


def benchmark_reads(videos: dict[str, list[Path]], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    first_kind = next(iter(videos))
    settings = [(kind, dialect, workers) for kind in videos for dialect in args.dialects for workers in args.workers
                if not (args.tiny and workers and kind != first_kind)]  # tiny: worker start-ups dominate, do one kind
    for kind, dialect, workers in tqdm(settings, desc="loader speed", unit="setting", file=sys.stderr):
        reads = make_reads(videos[kind], dialect, args.repeats, seed=args.seed)
        common_rate, common_clips = throughput(ReadDataset(reads, read_common), workers)
        naive_rate, naive_clips = throughput(ReadDataset(reads, read_naive), workers)
        if not all(torch.equal(a, b) for a, b in zip(common_clips, naive_clips)):
            raise AssertionError(f"{kind}/{dialect}: common and naive pipelines returned different frames")
        frames_per_clip = float(np.mean([len(indices) for _, indices in reads]))
        rows.append({"video": kind, "dialect": dialect, "workers": workers, "reads": len(reads),
                     "frames_per_clip": frames_per_clip, "common_clips/s": common_rate, "naive_clips/s": naive_rate,
                     "speedup": common_rate / naive_rate, "common_frames/s": common_rate * frames_per_clip,
                     "naive_frames/s": naive_rate * frames_per_clip})
    return rows


def training_data_fraction(paths: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """Data-wait share of a short training loop of a registered model on the full common pipeline: annotation
    records, ``VideoClipDataset`` with TSN sampling, short-side resize and random crop in the workers,
    ``build_loader`` with ``max(workers)`` workers, ``Normalize`` on the device."""
    from benchmarks.registry import classification_loss, iter_variants

    specs = list(iter_variants(variants=[args.train_variant] if args.train_variant else None,
                               paper=None if args.train_variant else False))
    if not specs:
        return {"skipped": "no registered tiny variant to train"}
    spec = min(specs, key=lambda s: math.prod(s.input_shape))  # the cheapest input: a loop that can be data-bound
    _, frames, height, width = spec.input_shape
    records = SyntheticDataset.load(Path(paths[0]).parents[1]).records("slowfast_csv", "train")
    records = (records * (1 + (args.train_steps + 1) * args.train_batch // len(records)))
    transform = Compose([ShortSideResize(min(height, width)), RandomCrop(min(height, width))])
    dataset = VideoClipDataset(records, TSNSegmentSampler(frames), transform, seed=args.seed)
    workers = max(args.workers)
    loader = build_loader(dataset, args.train_batch, train=True, num_workers=workers, seed=args.seed)
    torch.manual_seed(args.seed)
    model, normalize = spec.build().train(), Normalize()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    data_time = step_time = 0.0
    timed_steps, mark = 0, time.perf_counter()
    for step, batch in enumerate(loader):
        if step > args.train_steps:
            break
        fetched = time.perf_counter()
        clips = normalize(batch["clip"])  # float [B, 3, T, H, W]
        optimizer.zero_grad(set_to_none=True)
        classification_loss(model(clips), batch["label"] % spec.num_classes).backward()
        optimizer.step()
        done = time.perf_counter()
        if step > 0:  # the first batch includes worker start-up and first-call overheads
            data_time, step_time, timed_steps = data_time + fetched - mark, step_time + done - fetched, step
        mark = done
    return {"model": spec.name, "input": "x".join(map(str, spec.input_shape)), "video": Path(paths[0]).parents[1].name,
            "batch": args.train_batch, "workers": workers, "timed_steps": timed_steps,
            "data_seconds": data_time, "compute_seconds": step_time,
            "data_fraction": data_time / max(data_time + step_time, 1e-9)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loader_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="CI mode: small, short videos, a few reads each, workers > 0 on the first kind only")
    parser.add_argument("--frames", type=int, default=None, help="frames per generated video (default 300, tiny 48)")
    parser.add_argument("--videos", type=int, default=None, help="videos per kind, 2 to 16 (default 4, tiny 2)")
    parser.add_argument("--repeats", type=int, default=None, help="passes over the videos per setting (default 2)")
    parser.add_argument("--kinds", nargs="*", default=[kind.name for kind in VIDEO_KINDS],
                        choices=[kind.name for kind in VIDEO_KINDS], help="video kinds to generate and read")
    parser.add_argument("--dialects", nargs="*", default=list(DIALECTS), choices=list(DIALECTS))
    parser.add_argument("--workers", type=int, nargs="*", default=None,
                        help="DataLoader worker counts (default 0 1 N with N = CPU cores; tiny 0 1)")
    parser.add_argument("--video-dir", type=Path, default=None,
                        help="keep the generated videos here and reuse them on the next run (default: a temp dir)")
    parser.add_argument("--train-steps", type=int, default=None, help="timed steps of the training loop (0: skip)")
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--train-variant", default=None,
                        help="variant for the training loop (default: the tiny variant with the smallest input)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for loader_speed.{json,md} (default results/; results/_tiny with --tiny)")
    args = parser.parse_args(argv)
    args.out = results_dir(args.out, args.tiny)
    tiny = args.tiny
    args.frames = args.frames or (48 if tiny else 300)
    args.videos = args.videos or (2 if tiny else 4)
    args.repeats = args.repeats or (1 if tiny else 2)
    args.workers = args.workers if args.workers is not None else ([0, 1] if tiny else [0, 1, os.cpu_count() or 2])
    args.train_steps = (2 if tiny else 20) if args.train_steps is None else args.train_steps
    return args


def generate_videos(directory: Path, args: argparse.Namespace) -> dict[str, list[Path]]:
    """Generate (or reuse) ``args.videos`` synthetic videos per kind; tiny mode shrinks every kind by 4x per side."""
    videos = {}
    for kind in (kind for kind in VIDEO_KINDS if kind.name in args.kinds):
        if args.tiny:
            kind = VideoKind(kind.name, kind.width // 4 // 2 * 2, kind.height // 4 // 2 * 2, kind.gop)
        root = directory / f"{kind.name}_{kind.width}x{kind.height}_{args.frames}f_{args.videos}v"
        if (root / "synthetic.json").exists():
            dataset = SyntheticDataset.load(root)
        else:
            dataset = make_synthetic_dataset(root, num_classes=args.videos, videos_per_class=1,
                                             num_frames=args.frames, height=kind.height, width=kind.width, fps=30,
                                             gop=kind.gop, formats=("mp4",), val_fraction=0.0, seed=args.seed)
        videos[kind.name] = [dataset.video_path(video.video_id) for video in dataset.videos]
    return videos


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="loader_speed_") as scratch:
        video_dir = args.video_dir or Path(scratch)
        videos = generate_videos(video_dir, args)
        rows = benchmark_reads(videos, args)
        first_kind = next(iter(videos))
        training = (training_data_fraction(videos[first_kind], args) if args.train_steps
                    else {"skipped": "--train-steps 0"})
    print(format_table(rows, COLUMNS))
    print("training loop:", ", ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                                      for key, value in training.items()))
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()
                if key != "out"}
    settings["training_loop"] = training
    path = write_json(args.out / "loader_speed.json", "loader_speed", settings, rows)
    notes = LOADER_NOTES + "\n\nTraining loop: " + ", ".join(f"{key} {value:.3g}" if isinstance(value, float)
                                                             else f"{key} {value}" for key, value in training.items())
    write_markdown(path.with_suffix(".md"), "Loader speed: common pipeline vs naive decode-everything", settings,
                   rows, COLUMNS, notes)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
