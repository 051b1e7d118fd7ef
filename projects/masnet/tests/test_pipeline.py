"""MAS-Net entry points: presets, the reference's test-time sampling and LR schedule, flip, and the quick demo."""
from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch

from common.data.video_reader import VideoReader
from common.engine.app import parse_config
from projects.masnet.configs import PRESETS
from projects.masnet.data import clip_sampler, flip_transform
from projects.masnet.demo import run_demo
from projects.masnet.recipe import RECIPE


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


def test_quick_demo_trains_tests_and_writes_its_outputs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path.parent)  # a relative --out, as `make demo` passes it
    summary = run_demo(Path(tmp_path.name), quick=True, workers=0)
    assert json.loads((tmp_path / "summary.json").read_text())["top1"] == summary["top1"]
    for variant in ("masnet_tiny", "tsn_tiny"):
        assert 0.0 <= summary["top1"][variant] <= 100.0
        run = tmp_path / variant
        assert (run / "train" / "config.json").is_file() and (run / "train" / "curves.png").stat().st_size > 0
        assert list((run / "train" / "tensorboard").glob("events.out.tfevents.*"))
        assert (run / "train" / "checkpoints" / "last.pth").is_file()
        assert (run / "test" / "confusion.png").is_file()
        scores = np.load(run / "test" / "scores.npz", allow_pickle=False)
        assert scores["scores"].shape == (4, 6, 2) and np.isfinite(scores["scores"]).all()  # 4 videos, 2x3 views
    cam = tmp_path / "masnet_tiny" / "cam"
    assert (cam / "cam_frames.png").is_file() and len(list(cam.glob("cam_frame_*.png"))) == 8
    video = VideoReader(cam / "cam.mp4")
    assert video.num_frames == 8
    video.close()
