"""Multi-view test of a MAS-Net checkpoint with the reference ``test.py`` protocols.

    python -m projects.masnet.test --preset ssv1_8f --data-root /data --checkpoint runs/ssv1_8f/checkpoints/best.pth \
        --test_crops 3 --twice_sample --full_res --output-dir runs/ssv1_8f_test_2x3

Views: ``--test_crops`` (= ``--num-crops``) 1 / 3 / 5 / 10 TSM crops, of ``--input-size`` (224) or with ``--full_res``
of ``--scale-size`` (256); clips: 1 (segment centres), ``--twice_sample`` (2: centres and segment starts),
``--dense_sample --dense_sample_num D`` (D uniform TSN clips, the reference's test-time meaning, not TSM's I3D
windows), or ``--num-clips N`` (1, 2 = twice, N > 2 = dense). As the reference, a video's score is the mean of its
views' logits. ``--checkpoint`` (= ``--weights``) takes a ``main.py`` checkpoint or a reference ``.pth.tar``.

Writes ``scores.npz`` (per-view logits), ``metrics.json`` and the confusion matrix (``.npy`` + PNG) into
``--output-dir``. The paper's "EN" rows (8F + 16F) sum the two runs' logits, as the reference's
``average_scores.py``: ``python -m common.tools.average_scores 8f/scores.npz 16f/scores.npz``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/masnet && python test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.data.device_transforms import IMAGENET_MEAN, IMAGENET_STD
from common.data.loader import build_loader
from common.data.multiview import MultiViewTestMeter
from common.distributed import init_distributed, is_main_process
from common.engine.batch import ClipPreprocessor
from common.engine.checkpoint import (CheckpointError, load_checkpoint, load_state_dict_verbose,
                                      require_keys)
from common.engine.cli import add_test_engine_args, parse_with_presets, per_process_batch_size
from common.engine.evaluate import multiview_test
from common.engine.trainer import AMP_DTYPES
from projects.masnet.configs import presets_for
from projects.masnet.data import add_data_args, class_names, multiview_dataset, read_records
from projects.masnet.main import add_model_args, model_from_args, read_weights
from projects.masnet.model import VARIANTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m projects.masnet.test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", "--weights", dest="checkpoint", required=True,
                        help="main.py checkpoint (its variant and T are used) or reference .pth.tar")
    parser.add_argument("--output-dir", default="runs/test", help="where scores.npz, metrics.json, confusion go")
    parser.add_argument("--test_segments", type=int, default=None,
                        help="frames per clip; default: the checkpoint's training T (else --num_segments)")
    parser.add_argument("--test_crops", "--num-crops", dest="test_crops", type=int, choices=(1, 3, 5, 10), default=1)
    parser.add_argument("--num-clips", type=int, default=1, help="1, 2 (= --twice_sample) or N > 2 dense clips")
    parser.add_argument("--twice_sample", action="store_true", help="2 clips: segment centres and starts")
    parser.add_argument("--dense_sample_num", type=int, default=10, help="clips for --dense_sample")
    parser.add_argument("--full_res", action="store_true", help="crop at --scale-size (256) instead of 224")
    parser.add_argument("--test_list", dest="val_list", help="annotation file to test (same as --val-list)")
    parser.add_argument("--batch_size", "--batch-size", dest="test_batch_size", type=int, default=8,
                        help="views per batch (all processes together)")
    add_test_engine_args(parser)
    add_model_args(parser)
    add_data_args(parser)
    return parser


def number_of_clips(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.twice_sample and args.dense_sample:
        parser.error("--twice_sample and --dense_sample exclude each other (the reference crashes on both)")
    if args.twice_sample:
        return 2
    return args.dense_sample_num if args.dense_sample else args.num_clips


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    parser = build_parser()
    args = parse_with_presets(parser, presets_for(parser), argv)
    num_clips = number_of_clips(args, parser)
    info = init_distributed(args.device)
    checkpoint = load_checkpoint(args.checkpoint)
    trained = checkpoint.get("config", {}) if isinstance(checkpoint, dict) else {}
    expected = "a checkpoint of projects.masnet.main or of the MAS-Net reference"
    if trained.get("variant", args.variant) not in VARIANTS:
        raise CheckpointError(f"{args.checkpoint} is not {expected}: it was trained as {trained['variant']!r}")
    args.variant = trained.get("variant", args.variant)
    args.num_segments = args.test_segments or trained.get("num_segments", args.num_segments)
    weights = read_weights(checkpoint, args.variant)
    require_keys(weights, ["fc.weight"], args.checkpoint, expected)
    num_classes = weights["fc.weight"].shape[0]
    names = class_names(args)
    if names is not None and len(names) != num_classes:
        parser.error(f"{args.checkpoint} has {num_classes} classes, {args.category_file} names {len(names)}")
    model = model_from_args(args, num_classes)  # no weight depends on T: any --test_segments loads
    load_state_dict_verbose(model, weights, strict=True, source=args.checkpoint)
    model.to(info.device)

    records = read_records(args, args.val_list, num_classes, "--val-list / --test_list")
    dataset = multiview_dataset(args, records, num_clips, args.test_crops, args.full_res)
    loader = build_loader(dataset, per_process_batch_size(args.test_batch_size, info.world_size), train=False,
                          num_workers=args.workers, seed=args.seed, rank=info.rank, world_size=info.world_size)
    meter = MultiViewTestMeter(len(records), dataset.num_views, num_classes, aggregate="mean", score="logits",
                               class_names=names)
    multiview_test(model, loader, meter, ClipPreprocessor(IMAGENET_MEAN, IMAGENET_STD), info.device,
                   AMP_DTYPES[args.amp], show_progress=not args.no_progress)
    if not is_main_process():
        return None
    meter.save(args.output_dir, video_ids=dataset.video_ids())
    metrics = meter.metrics()
    crop = args.scale_size if args.full_res else args.input_size
    metrics.update(num_clips=float(num_clips), num_crops=float(args.test_crops), crop_size=float(crop),
                   test_segments=float(args.num_segments))
    Path(args.output_dir, "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"{args.variant} T={args.num_segments}, {num_clips} clips x {args.test_crops} crops at {crop}px: "
          f"top1 {metrics['top1']:.2f}  top5 {metrics['top5']:.2f}  mean class acc {metrics['mean_class_acc']:.2f} "
          f"over {int(metrics['num_videos'])} videos")
    return metrics


if __name__ == "__main__":
    main()
