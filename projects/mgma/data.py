"""MGMA's data dialect on ``common.data``: PySlowFast clips (the reference is a PySlowFast fork).

* UCF101 / HMDB51 / Kinetics-style lists: PySlowFast csv (``path label``, 0-based labels: write them with
  ``python -m common.tools.build_lists ucf101|hmdb51``), PyAV decoding, ``SlowFastClipSampler`` (8 frames, rate 8
  at a target 30 fps; test clip i of K starts at ``delta * i / K``), short-side jitter [128, 160], random 112 crop,
  flip; test: short side 128, one centre 128 crop (or 3 crops) per clip.
* Something-Something v1 (csv) / v2 (json) over JPEG frame folders: ``SlowFastSegmentSampler`` (one frame per
  segment, PySlowFast's SSv2 dialect), the same spatial pipeline. The released code has no SS dataset (ours).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common.data import annotations as ann
from common.data.datasets import VideoClipDataset
from common.data.samplers import SlowFastClipSampler, SlowFastSegmentSampler
from common.data.transforms import (Compose, RandomCrop, RandomHorizontalFlip, ShortSideResize, ShortSideScaleJitter,
                                    TestCrop)

DATASETS = ("ucf101", "hmdb51", "kinetics", "ssv1", "ssv2")
FRAME_DATASETS = ("ssv1", "ssv2")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """MGMA's data flags (the engine owns ``--data-root``, the lists, ``--num-frames``, ``--sampling-rate``,
    ``--crop-size`` (training crop) and ``--scale-size`` (test short side))."""
    group = parser.add_argument_group("data (MGMA)")
    group.add_argument("--dataset", choices=DATASETS, default="ucf101",
                       help="ucf101 / hmdb51 / kinetics: PySlowFast csv of videos; ssv1 / ssv2: frame folders")
    group.add_argument("--path-label-separator", default=" ", help="csv field separator (DATA.PATH_LABEL_SEPARATOR)")
    group.add_argument("--labels-file", default=None,
                       help="ssv2: something-something-v2-labels.json; ssv1: something-something-v1-labels.csv "
                            "(relative to --data-root; default: those names)")
    group.add_argument("--frames-dir", default="", help="ssv1 / ssv2: folder of the frame folders (under --data-root)")
    group.add_argument("--frame-template", default=None,
                       help="frame file names (ssv1: the released {:05d}.jpg; ssv2: extract_frames' img_{:05d}.jpg)")
    group.add_argument("--target-fps", type=float, default=30.0, help="fps the sampling rate refers to")
    group.add_argument("--jitter-min", type=int, default=128, help="training short side drawn from [min, max]")
    group.add_argument("--jitter-max", type=int, default=160, help="see --jitter-min")
    group.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="training flip")
    group.add_argument("--test-crop-size", type=int, default=128,
                       help="test crop side (TEST_CROP_SIZE); the model runs fully convolutionally on it")
    group.add_argument("--reference-val-augmentation", action=argparse.BooleanOptionalAction, default=False,
                       help="validate on one random, training-augmented clip per video as the reference does "
                            "(default: one deterministic centre view)")


def read_records(args: argparse.Namespace, split_file: str, flag: str) -> list[ann.VideoRecord]:
    """Annotation records of one split in the dialect of ``args.dataset``."""
    if not split_file:
        raise ValueError(f"{flag} is required")
    root = Path(args.data_root)
    if args.dataset == "ssv2":
        return ann.read_ssv2(root / (args.labels_file or "something-something-v2-labels.json"), root / split_file,
                             data_root=root / args.frames_dir, num_classes=args.num_classes)
    if args.dataset == "ssv1":
        return ann.read_sthv1(root / (args.labels_file or "something-something-v1-labels.csv"), root / split_file,
                              data_root=root / args.frames_dir, num_classes=args.num_classes)
    return ann.read_slowfast_csv(root / split_file, data_root=root, separator=args.path_label_separator,
                                 num_classes=args.num_classes)


def temporal_sampler(args: argparse.Namespace, num_test_clips: int = 1) -> Any:
    if args.dataset in FRAME_DATASETS:
        return SlowFastSegmentSampler(args.num_frames)
    return SlowFastClipSampler(args.num_frames, args.sampling_rate, num_test_clips=num_test_clips,
                               target_fps=args.target_fps, timestamp_trim=args.timestamp_trim)


def _reader(args: argparse.Namespace) -> dict[str, Any]:
    if args.dataset not in FRAME_DATASETS:
        return dict(reader="video")
    template = args.frame_template or ("img_{:05d}.jpg" if args.dataset == "ssv2" else "{:05d}.jpg")
    return dict(reader="frames", frame_template=template)


def train_transform(args: argparse.Namespace) -> Compose:
    """Short side jittered in [jitter_min, jitter_max], random ``crop_size`` crop, flip (p 0.5)."""
    steps: list[Any] = [ShortSideScaleJitter(args.jitter_min, args.jitter_max), RandomCrop(args.crop_size)]
    if args.flip:
        steps.append(RandomHorizontalFlip(0.5))
    return Compose(steps)


def train_dataset(args: argparse.Namespace, split_file: str, flag: str = "--train-list") -> VideoClipDataset:
    return VideoClipDataset(read_records(args, split_file, flag), temporal_sampler(args), train_transform(args),
                            mode="train", seed=args.seed, **_reader(args))


def test_dataset(args: argparse.Namespace, split_file: str | None, num_clips: int, num_crops: int,
                 flag: str = "--val-list", records: list[ann.VideoRecord] | None = None) -> VideoClipDataset:
    """Every video as ``num_clips x num_crops`` views: short side ``scale_size``, then the centre (or left /
    centre / right) ``test_crop_size`` crop, as PySlowFast's test loader. ``records`` replace ``split_file``."""
    def crop_transform(crop_index: int) -> Compose:
        return Compose([ShortSideResize(args.scale_size), TestCrop(args.test_crop_size, num_crops, crop_index)])

    records = read_records(args, split_file, flag) if records is None else records
    return VideoClipDataset(records, temporal_sampler(args, num_clips), mode="test",
                            num_crops=num_crops, test_transform_for_crop=crop_transform, seed=args.seed,
                            **_reader(args))
