"""Motionformer's data pipelines (Kinetics, Something-Something v2, EPIC-KITCHENS-100) on ``common.data``.

Each dataset dialect of the reference (spec section 4) is a choice of annotation reader, frame source, temporal
sampler and transforms; ``add_data_args`` declares the dialect's flags.

* Kinetics: PySlowFast csv, PyAV decoding, ``SlowFastClipSampler`` (16 x 4 at 30 fps), short-side jitter
  [256, 320], random 224 crop, flip, clip-consistent colour jitter; test 10 clips x 3 crops (short side = crop).
* SSv2: json labels over JPEG frame folders, ``SlowFastSegmentSampler`` (one frame per segment), inverse-uniform
  jitter, RandAugment, no flip; test 1 clip x 3 crops.
* EPIC-100: csv segments over the official JPEG folders, ``SlowFastClipSampler`` at the folder's 60 fps
  (``--source-fps``), RandAugment, flip; BGR input (``--bgr``) as the released models expect.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common.data import annotations as ann
from common.data.datasets import VideoClipDataset
from common.data.samplers import SlowFastClipSampler, SlowFastSegmentSampler
from common.data.transforms import (ColorJitter, Compose, RandAugment, RandomCrop, RandomHorizontalFlip,
                                    RandomResizedCrop, ShortSideResize, ShortSideScaleJitter, TestCrop)

DATASETS = ("kinetics", "ssv2", "epic")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """Motionformer's own data flags (``--data-root``, the lists, ``--num-frames``, ``--sampling-rate`` and
    ``--crop-size`` are the engine's shared ones)."""
    group = parser.add_argument_group("data (Motionformer)")
    group.add_argument("--dataset", choices=DATASETS, default="kinetics", help="data dialect of the reference")
    group.add_argument("--path-label-separator", default=" ",
                       help="Kinetics csv field separator (PySlowFast DATA.PATH_LABEL_SEPARATOR); a path that "
                            "contains it must be double-quoted")
    group.add_argument("--labels-json", type=str, default="something-something-v2-labels.json",
                       help="SSv2 class list, relative to --data-root")
    group.add_argument("--frames-dir", type=str, default="",
                       help="SSv2 / EPIC: folder of the frame folders, relative to --data-root")
    group.add_argument("--frame-template", type=str, default=None,
                       help="frame file names (None: img_{:05d}.jpg, EPIC frame_{:010d}.jpg)")
    group.add_argument("--target-fps", type=float, default=30.0, help="fps the sampling rate refers to")
    group.add_argument("--source-fps", type=float, default=60.0,
                       help="EPIC: fps of the frame folders (the reference infers 60, or 50 for P??_1?? videos)")
    group.add_argument("--rand-augment", type=str, default="", help="timm-style config, e.g. rand-m20-mstd0.5-inc1")
    group.add_argument("--random-resized-crop", action=argparse.BooleanOptionalAction, default=False,
                       help="Inception crop instead of jitter + crop")
    group.add_argument("--jitter-min", type=int, default=256, help="training short side drawn from [min, max]")
    group.add_argument("--jitter-max", type=int, default=320, help="see --jitter-min")
    group.add_argument("--inverse-uniform", action=argparse.BooleanOptionalAction, default=False,
                       help="draw 1 / short side uniformly (SSv2)")
    group.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="training flip")
    group.add_argument("--color-jitter", action=argparse.BooleanOptionalAction, default=False,
                       help="brightness / contrast / saturation 0.4, p 0.8")


def frame_template(args: argparse.Namespace) -> str:
    if args.frame_template:
        return args.frame_template
    return "frame_{:010d}.jpg" if args.dataset == "epic" else "img_{:05d}.jpg"


def read_records(args: argparse.Namespace, split_file: str) -> list[ann.VideoRecord]:
    """Annotation records of one split in the dialect of ``args.dataset``."""
    root = Path(args.data_root)
    frames_root = root / args.frames_dir
    if args.dataset == "kinetics":
        return ann.read_slowfast_csv(root / split_file, data_root=root, num_classes=args.num_classes,
                                     separator=args.path_label_separator)
    if args.dataset == "ssv2":
        return ann.read_ssv2(root / args.labels_json, root / split_file, data_root=frames_root,
                             num_classes=args.num_classes)
    return ann.read_epic100(root / split_file, data_root=frames_root, num_verbs=args.num_classes)


def temporal_sampler(args: argparse.Namespace, num_test_clips: int = 10) -> Any:
    if args.dataset == "ssv2":
        return SlowFastSegmentSampler(args.num_frames)
    if args.dataset == "epic":
        # Frame folders carry no fps: spread the clip over sampling_rate * num_frames * source_fps / target_fps.
        rate = args.sampling_rate * args.source_fps / args.target_fps
        return _FixedRateClipSampler(args.num_frames, rate, num_test_clips)
    return SlowFastClipSampler(args.num_frames, args.sampling_rate, num_test_clips=num_test_clips,
                               target_fps=args.target_fps, timestamp_trim=args.timestamp_trim)


class _FixedRateClipSampler(SlowFastClipSampler):
    """``SlowFastClipSampler`` with a fractional source-frame stride (EPIC frame folders at a known fps)."""

    def __init__(self, num_frames: int, rate: float, num_test_clips: int) -> None:
        super().__init__(num_frames, 1, num_test_clips=num_test_clips, target_fps=None)
        self.rate = rate

    def clip_size(self, fps: float | None) -> float:
        return max(1.0, self.rate * self.num_frames)


def train_transform(args: argparse.Namespace) -> Compose:
    """RandAugment (SSv2/EPIC) -> short-side jitter or random-resized crop -> crop -> flip -> colour jitter."""
    steps: list[Any] = []
    if args.rand_augment:
        steps.append(RandAugment(args.rand_augment))
    if args.random_resized_crop:
        steps.append(RandomResizedCrop(args.crop_size))
    else:
        steps += [ShortSideScaleJitter(args.jitter_min, args.jitter_max, inverse_uniform=args.inverse_uniform),
                  RandomCrop(args.crop_size)]
    if args.flip:
        steps.append(RandomHorizontalFlip(0.5))
    if args.color_jitter:
        steps.append(ColorJitter(0.4, 0.4, 0.4, p=0.8))
    return Compose(steps)


def train_dataset(args: argparse.Namespace, split_file: str) -> VideoClipDataset:
    return VideoClipDataset(read_records(args, split_file), temporal_sampler(args), train_transform(args),
                            mode="train", reader="video" if args.dataset == "kinetics" else "frames",
                            frame_template=frame_template(args), seed=args.seed)


def test_dataset(args: argparse.Namespace, split_file: str | None, num_clips: int, num_crops: int,
                 records: list[ann.VideoRecord] | None = None) -> VideoClipDataset:
    """Every video as ``num_clips x num_crops`` views: short side = crop, then left/centre/right crops.
    ``records`` replace ``split_file``."""
    def crop_transform(crop_index: int) -> Compose:
        return Compose([ShortSideResize(args.crop_size), TestCrop(args.crop_size, num_crops, crop_index)])

    records = read_records(args, split_file) if records is None else records
    return VideoClipDataset(records, temporal_sampler(args, num_clips), mode="test",
                            num_crops=num_crops, reader="video" if args.dataset == "kinetics" else "frames",
                            frame_template=frame_template(args), test_transform_for_crop=crop_transform,
                            seed=args.seed)
