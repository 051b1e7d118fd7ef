"""main.py (2 steps), test.py (multi-view) and visualize.py on the synthetic dataset with the tiny variant."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from common.engine.app import build_parser
from projects.motionformer import main as train_entry
from projects.motionformer import test as test_entry
from projects.motionformer import visualize
from projects.motionformer.configs import PRESETS
from projects.motionformer.recipe import RECIPE


@pytest.fixture(scope="module")
def trained_run(synthetic_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("motionformer_train")
    train_entry.main(["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root),
                      "--output-dir", str(run_dir), "--max-steps", "2", "--no-progress"])
    return run_dir


def test_train_writes_run_directory(trained_run):
    config = json.loads((trained_run / "config.json").read_text())["config"]
    assert config["preset"] == "tiny_synthetic" and config["lr"] == 3e-3 and config["label_smoothing"] == 0.0
    assert (trained_run / "checkpoints" / "last.pth").is_file()
    assert any((trained_run / "tensorboard").iterdir())
    assert "max_steps" in (trained_run / "log.txt").read_text()


def test_multiview_test_sums_softmax_of_every_view(trained_run, synthetic_dataset, tmp_path):
    metrics = test_entry.main(["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root),
                               "--checkpoint", str(trained_run / "checkpoints" / "last.pth"), "--num-clips", "2",
                               "--num-crops", "3", "--output-dir", str(tmp_path), "--no-progress",
                               "--jitter-min", "40", "--label-smoothing", "0.1",  # training flags: accepted
                               "--category-file", "annotations/category.txt"])
    scores = np.load(tmp_path / "scores.npz", allow_pickle=False)
    num_val = len(synthetic_dataset.split_videos("val"))
    assert scores["scores"].shape == (num_val, 6, 4) and np.isfinite(scores["scores"]).all()
    assert scores["class_names"].tolist() == synthetic_dataset.class_names
    report = (tmp_path / "report.txt").read_text()
    assert "2 clips x 3 crops" in report and synthetic_dataset.class_names[0] in report
    assert str(scores["aggregate"]) == "sum" and str(scores["score"]) == "softmax"
    # Top-1 from the summed per-view softmax, recomputed from the saved raw scores.
    logits = scores["scores"]
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    top1 = 100.0 * np.mean(probabilities.sum(1).argmax(-1) == scores["labels"])
    assert metrics["top1"] == pytest.approx(top1)
    assert (tmp_path / "confusion.png").is_file()


def test_every_preset_key_is_a_flag():
    destinations = set(vars(build_parser(RECIPE, "train").parse_args([])))
    for name, preset in PRESETS.items():
        assert set(preset) <= destinations, (name, set(preset) - destinations)
    assert len(PRESETS) == 21  # the 20 reference configs and the synthetic smoke preset


def test_ssv2_dialect_trains(synthetic_dataset, tmp_path):
    """Frame folders, one frame per segment, RandAugment, inverse-uniform jitter, no flip."""
    ssv2 = "annotations/ssv2/something-something-v2-"
    train_entry.main(["--preset", "tiny_synthetic", "--dataset", "ssv2", "--data-root", str(synthetic_dataset.root),
                      "--train-list", ssv2 + "train.json", "--labels-json", ssv2 + "labels.json",
                      "--frames-dir", "frames", "--rand-augment", "rand-m20-mstd0.5-inc1", "--inverse-uniform",
                      "--no-flip", "--val-list", "", "--output-dir", str(tmp_path), "--max-steps", "1",
                      "--no-progress"])
    assert (tmp_path / "checkpoints" / "last.pth").is_file()


def test_epic_dialect_trains_and_tests_two_heads(synthetic_dataset, tmp_path):
    """Frame folders with segment annotations, verb and noun heads, action accuracy, BGR input."""
    common = ["--preset", "tiny_synthetic", "--variant", "ek_motionformer_tiny", "--dataset", "epic",
              "--data-root", str(synthetic_dataset.root), "--frames-dir", "epic", "--bgr", "--no-progress",
              "--source-fps", "30", "--val-list", "annotations/epic/EPIC_100_validation.csv"]
    train_entry.main(common + ["--train-list", "annotations/epic/EPIC_100_train.csv", "--output-dir",
                               str(tmp_path / "train"), "--max-steps", "1"])
    metrics = test_entry.main(common + ["--checkpoint", str(tmp_path / "train" / "checkpoints" / "last.pth"),
                                        "--num-clips", "1", "--num-crops", "1", "--output-dir", str(tmp_path / "test")])
    assert {"verb_top1", "noun_top1", "action_top1"} <= set(metrics)
    config = json.loads((tmp_path / "train" / "config.json").read_text())["config"]
    assert config["best_metric"] == "action_top1"  # the resolved value, not the flag's default
    scores = np.load(tmp_path / "test" / "scores.npz", allow_pickle=False)
    assert scores["scores_verb"].shape[-1] == 4 and scores["scores_noun"].shape[-1] == 300


def test_visualize_writes_png(trained_run, synthetic_dataset, tmp_path):
    """One grid row per head beside the mean (the default here), each frame under its stage-2 weight bar;
    --block picks the block whose attention is drawn."""
    video = synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id)
    common = ["--checkpoint", str(trained_run / "checkpoints" / "last.pth"), "--variant", "motionformer_tiny",
              "--num-classes", "4", "--video", str(video), "--stride", "2", "--query", "1", "2", "3"]
    visualize.main([*common, "--out", str(tmp_path / "attention.png")])
    from PIL import Image

    heads = RECIPE.variant(argparse.Namespace(variant="motionformer_tiny")).arch["num_heads"]
    rows = ["input", "trajectory", *(f"trajectory/head{h}" for h in range(heads))]
    with Image.open(tmp_path / "attention.png") as image:  # 32-pixel frames drawn at 160, under a 25-pixel bar
        assert image.height == 20 + 16 + len(rows) * (25 + 160 + 4) and image.width > 8 * (160 + 4)
    (explained,) = [path for path in (tmp_path / "attention").iterdir() if path.is_dir()]
    assert sorted(path.name for path in explained.iterdir() if path.is_dir()) == sorted(
        [*(row.replace("/", "_") for row in rows), "frame_weights"])
    visualize.main([*common, "--block", "0", "--no-per-head", "--out", str(tmp_path / "block0.png")])
    (first,) = [path for path in (tmp_path / "block0").iterdir() if path.is_dir()]
    with np.load(explained / "maps.npz") as last, np.load(first / "maps.npz") as block0:
        assert set(block0) == {"trajectory", "frame_weights"}
        assert not np.allclose(last["trajectory"], block0["trajectory"])
    with pytest.raises(ValueError, match="outside the token grid"):
        visualize.main(["--checkpoint", str(trained_run / "checkpoints" / "last.pth"), "--variant",
                        "motionformer_tiny", "--num-classes", "4", "--video", str(video), "--query", "9", "0", "0",
                        "--out", str(tmp_path / "bad.png")])


def test_stage2_flags_reach_every_trajectory_layer():
    parser = build_parser(RECIPE, "train")
    for flags, expected in (([], False), (["--stage2-recompute", "--stage2-key-fold"], True)):
        cfg = parser.parse_args(["--variant", "motionformer_tiny", "--num-classes", "4", *flags])
        layers = [block.attn for block in RECIPE.build_model(cfg, log=lambda _: None).blocks]
        assert all(layer.stage2_recompute is expected and layer.stage2_key_fold is expected for layer in layers)
