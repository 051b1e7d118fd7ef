"""Multi-view test of a Motionformer: every video as clips x crops, softmax scores summed per video.

    python -m projects.motionformer.test --preset k400_motionformer_224_16x4 --data-root data/k400 \
        --checkpoint k400_motionformer_224_16x4.pyth --output-dir runs/k400_mf_test

``--checkpoint`` takes a checkpoint of ``main.py`` or a released reference ``.pyth``. Writes ``scores.npz``
(per-view raw logits, as ``python -m common.tools.average_scores`` reads them), ``metrics.json`` and the
confusion matrix (``.npy`` + PNG) into ``--output-dir``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/motionformer && python test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.data.loader import build_loader
from common.data.device_transforms import HALF_MEAN, HALF_STD
from common.data.multiview import MultiViewTestMeter
from common.distributed import init_distributed, is_main_process
from common.engine.cli import add_test_engine_args, parse_with_presets, per_process_batch_size
from common.engine.evaluate import multiview_test
from common.engine.trainer import AMP_DTYPES, ClipPreprocessor
from projects.motionformer.configs import presets_for
from projects.motionformer.data import add_data_args, test_dataset
from projects.motionformer.main import add_model_args, load_weights, model_from_args
from projects.motionformer.model import EPIC_NOUN_CLASSES, is_two_head


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Multi-view test of a Motionformer checkpoint.")
    parser.add_argument("--checkpoint", type=str, required=True, help="main.py checkpoint or reference .pyth")
    parser.add_argument("--output-dir", type=str, default="runs/test", help="where scores.npz and metrics go")
    parser.add_argument("--num-clips", type=int, default=10, help="temporal views (SSv2: 1, segment midpoints)")
    parser.add_argument("--num-crops", type=int, choices=(1, 3), default=3, help="spatial views (left/centre/right)")
    parser.add_argument("--batch-size", dest="test_batch_size", type=int, default=64,
                        help="global test batch (views; the reference: 64)")
    add_test_engine_args(parser)
    add_model_args(parser)
    add_data_args(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    parser = build_parser()
    args = parse_with_presets(parser, presets_for(parser), argv)
    if args.dataset == "ssv2" and args.num_clips != 1:
        parser.error("SSv2 has one temporal view (segment midpoints); use --num-clips 1")
    info = init_distributed(args.device)
    model = model_from_args(args)
    load_weights(model, args.checkpoint, args.variant, strict=True)
    model.to(info.device)
    dataset = test_dataset(args, args.val_list, args.num_clips, args.num_crops)
    loader = build_loader(dataset, per_process_batch_size(args.test_batch_size, info.world_size), train=False,
                          num_workers=args.workers, seed=args.seed, rank=info.rank, world_size=info.world_size)
    epic = is_two_head(args.variant)
    classes = {"verb": args.num_classes, "noun": EPIC_NOUN_CLASSES} if epic else args.num_classes
    # The reference sums the softmax probabilities of a video's views (its model returns them in eval mode).
    meter = MultiViewTestMeter(len(dataset.records), dataset.num_views, classes, aggregate="sum", score="softmax")
    multiview_test(model, loader, meter, ClipPreprocessor(HALF_MEAN, HALF_STD, bgr=args.bgr), info.device,
                   AMP_DTYPES[args.amp], show_progress=not args.no_progress)
    if not is_main_process():
        return None
    meter.save(args.output_dir, video_ids=dataset.video_ids())
    metrics = meter.metrics()
    Path(args.output_dir, "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(", ".join(f"{name} {value:.2f}" for name, value in metrics.items()))
    return metrics


if __name__ == "__main__":
    main()
