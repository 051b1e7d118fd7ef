"""MAS-Net data wiring: annotation lists, class names, the reference's train / val / test transforms and samplers.

Everything is built from ``common.data``; this file only chooses the MAS-Net (TSM-repo) dialect:

- train: TSN segment sampling (or I3D-dense with ``--dense_sample``), ``MultiScaleCrop(scales 1, .875, .75, .66)``
  on the raw frames, then a horizontal flip that swaps left/right classes by name;
- val (during training): segment centres, short side to ``--scale-size`` (256), centre crop ``--crop-size`` (224);
- test: 1 / 3 / 5 / 10 TSM crops (``--full_res`` crops at ``--scale-size``), 1 clip, 2 clips (``--twice_sample``) or
  D uniform TSN clips (``--dense_sample``, the reference's test-time meaning).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.data import annotations
from common.data.datasets import VideoClipDataset
from common.data.samplers import TSNSegmentSampler
from common.data.transforms import (Compose, MultiScaleCrop, RandomHorizontalFlip, ShortSideResize, TestCrop,
                                    horizontal_flip)
from common.engine.recipe import RecipeError

LIST_FORMATS = ("rawframes", "slowfast_csv", "sthv1", "ssv2", "jester")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """MAS-Net's own data flags (the shared ones, ``--data-root``, ``--train-list``, ``--crop-size``, ...,
    come from the engine)."""
    group = parser.add_argument_group("data (MAS-Net)")
    group.add_argument("--video-root", default="",
                       help="folder (relative to --data-root) that the list's video / frame-folder entries are in, "
                            "e.g. somethingv1/20bn-something-something-v1")
    group.add_argument("--list-format", choices=LIST_FORMATS, default="rawframes",
                       help="rawframes: TSM 'folder num_frames label'; slowfast_csv: 'path label'; sthv1 / jester: "
                            "'id;category' csv; ssv2: the release's json")
    group.add_argument("--path-label-separator", default=" ",
                       help="slowfast_csv field separator (PySlowFast DATA.PATH_LABEL_SEPARATOR); a path that "
                            "contains it must be double-quoted")
    group.add_argument("--category-file", default=None,
                       help="class names, one per line in label order (TSM category.txt) or the release's labels "
                            "file for sthv1 / ssv2 / jester; gives --num-classes and the flip's label swap")
    group.add_argument("--reader", choices=("frames", "video"), default="frames",
                       help="JPEG frame folders or video files (PyAV)")
    group.add_argument("--frame-template", default="img_{:05d}.jpg",
                       help="frame file names: SSv1 {:05d}.jpg, SSv2 {:06d}.jpg, Kinetics img_{:05d}.jpg")
    group.add_argument("--flip", choices=("label_swap", "plain", "none"), default="label_swap",
                       help="training flip: label_swap mirrors left/right classes found by name (the reference "
                            "swaps fixed ids 86/87, 93/94, 166/167 of the sorted SS list); plain keeps labels")
    group.add_argument("--linspace-rule", choices=("numpy1", "numpy2"), default="numpy1",
                       help="test clips > 2: how the reference's linspace phases round (numpy1: as the released "
                            "numbers were made; numpy2: what the reference code gives under numpy >= 2)")
    group.add_argument("--dense-sample", "--dense_sample", action=argparse.BooleanOptionalAction, default=False,
                       help="training and validation: TSM's I3D-dense 64-frame window; in test.py: "
                            "--dense_sample_num uniform clips")


def _path(args: argparse.Namespace, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else Path(args.data_root) / path


def class_names(args: argparse.Namespace) -> list[str] | None:
    """Class names in label order, or None when only ``--num-classes`` is known."""
    if args.category_file is None:
        return None
    names = annotations.read_class_names(_path(args, args.category_file))
    return sorted(names) if args.list_format == "sthv1" else names  # the sthv1 reader sorts too (TSM order)


def resolve_num_classes(args: argparse.Namespace, names: list[str] | None) -> int:
    if names is not None:
        if args.num_classes is not None and args.num_classes != len(names):
            raise RecipeError(f"--num-classes {args.num_classes} disagrees with the {len(names)} names in "
                              f"{args.category_file}")
        return len(names)
    if args.num_classes is None:
        raise RecipeError("give --category-file (class names) or --num-classes")
    return args.num_classes


def read_records(args: argparse.Namespace, list_file: str | None, num_classes: int,
                 flag: str) -> list[annotations.VideoRecord]:
    """The records of one annotation file, paths joined to ``--data-root/--video-root``."""
    if list_file is None:
        raise RecipeError(f"{flag} is required")
    path, root = _path(args, list_file), _path(args, args.video_root)
    if args.list_format == "rawframes":
        return annotations.read_rawframe_list(path, data_root=root, num_classes=num_classes)
    if args.list_format == "slowfast_csv":
        return annotations.read_slowfast_csv(path, data_root=root, num_classes=num_classes,
                                             separator=args.path_label_separator)
    if args.category_file is None:
        raise RecipeError(f"--list-format {args.list_format} needs --category-file")
    reader = {"sthv1": annotations.read_sthv1, "jester": annotations.read_jester, "ssv2": annotations.read_ssv2}
    return reader[args.list_format](_path(args, args.category_file), path, data_root=root, num_classes=num_classes)


def flip_transform(args: argparse.Namespace, names: list[str] | None) -> list[RandomHorizontalFlip]:
    return horizontal_flip(args.flip, names)


def _dataset(args: argparse.Namespace, records: list, sampler: TSNSegmentSampler, **kwargs) -> VideoClipDataset:
    return VideoClipDataset(records, sampler, reader=args.reader, frame_template=args.frame_template,
                            seed=args.seed, **kwargs)


def train_dataset(args: argparse.Namespace, records: list, names: list[str] | None) -> VideoClipDataset:
    sampler = TSNSegmentSampler(args.num_frames, dense_sample=args.dense_sample)
    # TSM resizes PIL images, whose bilinear filter antialiases when shrinking.
    transform = Compose([MultiScaleCrop(args.crop_size, (1, .875, .75, .66), antialias=True),
                         *flip_transform(args, names)])
    return _dataset(args, records, sampler, transform=transform, mode="train")


def view_transform(args: argparse.Namespace, crop_size: int, num_crops: int = 1, crop_index: int = 0) -> Compose:
    """The reference's val / test view: short side to ``--scale-size``, then one of its TSM crops."""
    return Compose([ShortSideResize(args.scale_size, antialias=True),
                    TestCrop(crop_size, num_crops, crop_index, geometry="tsm")])


def val_dataset(args: argparse.Namespace, records: list) -> VideoClipDataset:
    """One view per video: segment centres (or the centred dense window), resize, centre crop."""
    sampler = TSNSegmentSampler(args.num_frames, test_rule="val", dense_sample=args.dense_sample)
    return _dataset(args, records, sampler, transform=view_transform(args, args.crop_size), mode="test")


def clip_sampler(num_segments: int, num_clips: int, linspace_rule: str = "numpy1") -> TSNSegmentSampler:
    """MAS-Net test.py clips: 1 = segment centres, 2 = centres and starts (``--twice_sample``), D > 2 = D uniform
    clips phased over the first segment (``--dense_sample --dense_sample_num D``)."""
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    if num_clips <= 2:
        return TSNSegmentSampler(num_segments, twice_sample=num_clips == 2)
    return TSNSegmentSampler(num_segments, uniform_test_clips=num_clips, linspace_rule=linspace_rule)


def multiview_dataset(args: argparse.Namespace, records: list, num_clips: int, num_crops: int,
                 full_res: bool) -> VideoClipDataset:
    """Every (clip, crop) view of every video; crops of ``--scale-size`` with ``full_res``, else ``--crop-size``."""
    crop_size = args.scale_size if full_res else args.crop_size
    sampler = clip_sampler(args.num_frames, num_clips, args.linspace_rule)
    return _dataset(args, records, sampler, mode="test", num_crops=num_crops,
                    transform=view_transform(args, crop_size),
                    test_transform_for_crop=lambda crop: view_transform(args, crop_size, num_crops, crop))
