"""The projects' entry points on hostile input: another project's checkpoint is refused with the file named before
training; lists with another path/label separator are read with ``--path-label-separator``."""
from __future__ import annotations

import pytest
import torch

from common.engine.app import build_parser
from common.engine.checkpoint import CheckpointError
from projects.masnet import build_model as build_masnet
from projects.masnet import data as masnet_data
from projects.masnet import main as masnet_main
from projects.masnet import test as masnet_test
from projects.motionformer import build_model as build_motionformer
from projects.motionformer import data as motionformer_data
from projects.motionformer import main as motionformer_main
from projects.motionformer import test as motionformer_test
from projects.masnet.recipe import RECIPE as MASNET
from projects.motionformer.recipe import RECIPE as MOTIONFORMER


def _engine_checkpoint(path, model, variant):
    torch.save({"model": model.state_dict(), "step": 2, "epoch": 1, "config": {"variant": variant}}, path)
    return str(path)


def test_masnet_refuses_to_fine_tune_from_a_motionformer_checkpoint(synthetic_dataset, tmp_path):
    foreign = _engine_checkpoint(tmp_path / "mf.pth", build_motionformer("motionformer_tiny", 4), "motionformer_tiny")
    argv = ["--preset", "synthetic_tiny", "--data-root", str(synthetic_dataset.root), "--num_segments", "4",
            "--workers", "0", "--device", "cpu", "--no-progress", "--output-dir", str(tmp_path / "run"),
            "--tune_from", foreign]
    with pytest.raises(CheckpointError, match=r"refusing to fine-tune from .*mf.pth.*model weights not in the file"):
        masnet_main.main(argv)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_motionformer_refuses_to_fine_tune_from_a_masnet_checkpoint(synthetic_dataset, tmp_path):
    foreign = _engine_checkpoint(tmp_path / "mas.pth", build_masnet("masnet_tiny", 4, num_segments=4), "masnet_tiny")
    argv = ["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root), "--workers", "0",
            "--val-list", "", "--no-progress", "--output-dir", str(tmp_path / "run"), "--finetune", foreign]
    with pytest.raises(CheckpointError, match=r"refusing to fine-tune from .*mas.pth"):
        motionformer_main.main(argv)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_masnet_test_names_a_foreign_checkpoint(synthetic_dataset, tmp_path):
    model = build_motionformer("motionformer_tiny", 4)
    common = ["--preset", "synthetic_tiny", "--data-root", str(synthetic_dataset.root), "--workers", "0",
              "--device", "cpu", "--no-progress", "--output-dir", str(tmp_path / "test")]
    foreign = _engine_checkpoint(tmp_path / "mf.pth", model, "motionformer_tiny")
    with pytest.raises(CheckpointError, match=r"mf.pth is not a checkpoint of projects.masnet.main .*motionformer_tiny"):
        masnet_test.main(common + ["--checkpoint", foreign])
    bare = tmp_path / "weights.pth"
    torch.save(model.state_dict(), bare)  # no stored variant: the keys tell
    with pytest.raises(CheckpointError, match=r"weights.pth is not a checkpoint of projects.masnet.main .*no fc.weight"):
        masnet_test.main(common + ["--checkpoint", str(bare)])


def test_both_projects_read_lists_with_another_separator(tmp_path):
    (tmp_path / "train.csv").write_text("air drumming/a.mp4,1\n\"x,y.mp4\",0\n")
    masnet_args = build_parser(MASNET, "train").parse_args(
        ["--data-root", str(tmp_path), "--list-format", "slowfast_csv", "--path-label-separator", ","])
    motionformer_args = build_parser(MOTIONFORMER, "train").parse_args(
        ["--data-root", str(tmp_path), "--path-label-separator", ",", "--num-classes", "2"])
    expected = [(str(tmp_path / "air drumming/a.mp4"), 1), (str(tmp_path / "x,y.mp4"), 0)]
    records = masnet_data.read_records(masnet_args, "train.csv", 2, "--train-list")
    assert [(r.path, r.label) for r in records] == expected
    records = motionformer_data.read_records(motionformer_args, "train.csv")
    assert [(r.path, r.label) for r in records] == expected


def test_motionformer_test_names_a_foreign_checkpoint(synthetic_dataset, tmp_path):
    foreign = _engine_checkpoint(tmp_path / "mas.pth", build_masnet("masnet_tiny", 4, num_segments=4), "masnet_tiny")
    argv = ["--preset", "tiny_synthetic", "--checkpoint", foreign, "--data-root", str(synthetic_dataset.root),
            "--workers", "0", "--no-progress", "--output-dir", str(tmp_path / "test")]
    with pytest.raises(CheckpointError, match=r"mas.pth is not a checkpoint of projects.motionformer.main .*masnet_tiny"):
        motionformer_test.main(argv)
