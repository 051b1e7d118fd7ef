"""MAS-Net entry points: presets, the reference's test-time sampling and LR schedule, flip, and the quick demo."""
from __future__ import annotations

import json
from argparse import Namespace

import numpy as np
import pytest
import torch

from common.data.video_reader import VideoReader
from common.engine.app import parse_config
from projects.masnet.configs import PRESETS
from projects.masnet.data import clip_sampler, flip_transform
from projects.masnet.demo import QUICK
from projects.masnet.recipe import RECIPE

DEMO_MARGIN = 20.0  # top-1 points; the full demo measures 100 vs 59.4


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_resolves_and_explicit_flags_win(name: str, tmp_path) -> None:
    category_file = PRESETS[name]["category_file"]
    if category_file is not None:
        (tmp_path / category_file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / category_file).write_text("".join(f"class {i}\n" for i in range(174)))
    args, _ = parse_config(RECIPE, ["--preset", name, "--data-root", str(tmp_path), "--lr", "0.123"], "train")
    assert args.lr == 0.123 and args.grad_clip == 20.0 and args.num_frames == PRESETS[name]["num_frames"]
    assert args.val_list == PRESETS[name]["val_list"] and args.reference_batch_size == PRESETS[name]["batch_size"]


def test_mas_lr_schedule_matches_the_reference(tmp_path) -> None:
    args, _ = parse_config(RECIPE, ["--num-classes", "2", "--train-list", "x", "--lr_type", "MAS_lr", "--lr", "0.01",
                                    "--lr_steps", "30", "40", "50", "60", "--epochs", "70"], "train")
    schedule = RECIPE.schedule(args)
    lrs = [schedule.lr_at(epoch + 0.5) for epoch in (0, 29, 30, 39, 40, 50, 59, 60, 69)]
    assert lrs == pytest.approx([1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 5e-5, 5e-5, 1e-5, 1e-5])


def test_test_time_clips_follow_the_reference_worked_example() -> None:
    # masnet.md 2.5, N = 37, T = 8 (1-based frame numbers there, 0-based here).
    assert (clip_sampler(8, 1).test_indices(37, 0) + 1).tolist() == [3, 7, 12, 17, 21, 26, 31, 35]
    assert (clip_sampler(8, 2).test_indices(37, 1) + 1).tolist() == [1, 5, 10, 14, 19, 24, 28, 33]
    dense = clip_sampler(8, 10)  # --dense_sample at test time: uniform TSN clips, phases [0,0,0,1,1,2,2,2,3,3]
    phases = [int(dense.test_indices(37, clip)[0]) for clip in range(10)]
    assert phases == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]


def test_flip_swaps_left_and_right_classes_by_name() -> None:
    names = ["Pulling something from right to left", "Holding something", "Pulling something from left to right"]
    (flip,) = flip_transform(Namespace(flip="label_swap"), names)
    clip = torch.arange(2 * 3 * 2 * 4, dtype=torch.uint8).view(2, 3, 2, 4)  # [T, 3, H, W]
    for label, mirrored in ((0, 2), (2, 0), (1, 1)):
        outcomes = set()
        for seed in range(16):
            out = flip({"clip": clip, "label": label}, torch.Generator().manual_seed(seed))
            was_flipped = torch.equal(out["clip"], clip.flip(-1))
            assert out["label"] == (mirrored if was_flipped else label)
            outcomes.add(was_flipped)
        assert outcomes == {True, False}


@pytest.mark.slow
def test_demo_mas_net_beats_tsn_by_a_margin(demo_run) -> None:
    """What the demo claims: TSN cannot tell the motion order (chance 50 %), MAS-Net can."""
    _, summary = demo_run
    top1 = summary["top1"]
    assert top1["masnet_tiny"] - top1["tsn_tiny"] >= DEMO_MARGIN, top1
    assert top1["masnet_tiny"] >= summary["chance_top1"] + DEMO_MARGIN, top1


@pytest.mark.slow
def test_demo_writes_runs_test_scores_and_grad_cam(demo_run) -> None:
    out, summary = demo_run
    assert json.loads((out / "summary.json").read_text())["top1"] == summary["top1"]
    num_val = len((out / "data" / "annotations" / "rawframes" / "val.txt").read_text().splitlines())
    for variant in ("masnet_tiny", "tsn_tiny"):
        run = out / variant
        assert (run / "train" / "config.json").is_file() and (run / "train" / "curves.png").stat().st_size > 0
        assert list((run / "train" / "tensorboard").glob("events.out.tfevents.*"))
        assert (run / "train" / "checkpoints" / "last.pth").is_file()
        assert (run / "test" / "confusion.png").is_file()
        scores = np.load(run / "test" / "scores.npz", allow_pickle=False)
        assert scores["scores"].shape == (num_val, 6, 2) and np.isfinite(scores["scores"]).all()  # 2x3 views
    explained = out / "masnet_tiny" / "explain"  # common.tools.explain and common.tools.demo on one val clip
    frames = QUICK["frames"]  # the checkpoint's clip length: the tools take it from the run's configuration
    (folder,) = [path for path in explained.iterdir() if (path / "grid.png").is_file()]
    assert len(list((folder / "layer4").glob("frame_*.png"))) == frames
    with VideoReader(folder / "overlay.mp4") as video:
        assert video.num_frames == frames
    with VideoReader(explained / "annotated.mp4") as video, VideoReader(explained / "clip.mp4") as clip:
        assert video.num_frames == clip.num_frames and video.fps == clip.fps
    assert (explained / "predictions.jsonl").read_text().count("\n") >= 1
