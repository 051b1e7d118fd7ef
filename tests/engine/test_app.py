"""The shared entry layer: where each configuration value comes from, config.json, and the shared schedule flags."""
from __future__ import annotations

import argparse
import json

import pytest
import torch

from common.engine.app import build_parser, parse_config, write_run_config
from common.engine.checkpoint import CheckpointError
from common.engine.cli import read_config_file, save_resolved_config
from common.engine.recipe import Recipe, RecipeError
from common.variants import Variant, variant_table


class FakeRecipe(Recipe):
    """A recipe with no model: enough to exercise parsing."""

    name = "fake"
    variants = variant_table(Variant("fake_small", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)), Variant("fake_large"))
    presets = {
        "paper": {"batch_size": 32, "lr": 0.1, "epochs": 30, "augment": True, "num_frames": 16},
        "tiny_synthetic": {"batch_size": 2, "lr": 0.5, "epochs": 1},
    }
    defaults = {"lr": 0.2}
    flag_aliases = {"--num-frames": ("--num_segments",)}

    def add_args(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False, help="a switch")
        parser.add_argument("--jitter-min", type=int, default=256, help="a training-only flag")

    def resolve(self, cfg, mode, weights) -> None:
        if cfg.epochs < 0:
            raise RecipeError("negative --epochs")
        cfg.resolved_in = mode


RECIPE = FakeRecipe()


def test_preset_sets_defaults_explicit_flags_win_and_switches_turn_off():
    cfg, _ = parse_config(RECIPE, ["--preset", "paper", "--epochs", "5", "--no-augment", "--num_segments", "8"],
                          "train")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.augment, cfg.num_frames) == (5, 32, 0.1, False, 8)
    assert cfg.preset == "paper" and cfg.reference_batch_size == 32 and cfg.resolved_in == "train"
    plain, _ = parse_config(RECIPE, [], "train")
    assert (plain.lr, plain.preset, plain.variant, plain.augment) == (0.2, None, "fake_small", False)
    alias, _ = parse_config(RECIPE, ["--preset", "synthetic_tiny"], "train")
    assert alias.preset == "tiny_synthetic" and alias.lr == 0.5
    with pytest.raises(SystemExit):
        parse_config(RECIPE, ["--preset", "nope"], "train")
    with pytest.raises(SystemExit):  # a RecipeError is a usage error
        parse_config(RECIPE, ["--epochs", "-1"], "train")


def test_a_preset_key_that_is_not_a_flag_is_refused():
    class Broken(FakeRecipe):
        presets = {"bad": {"momentum": 0.9}}

    with pytest.raises(KeyError, match="momentum"):
        parse_config(Broken(), ["--preset", "bad"], "train")


def test_help_shows_defaults_and_a_presets_values(capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser(RECIPE, "train").parse_args(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "--augment, --no-augment" in text and "(default: 256)" in text and "--num-frames NUM_FRAMES, " \
        "--num_segments NUM_FRAMES" in text
    with pytest.raises(SystemExit):
        parse_config(RECIPE, ["--preset", "paper", "--help"], "train")
    assert "(default: 30)" in capsys.readouterr().out  # --epochs of the preset


def test_print_config_prints_the_resolved_values_and_exits(capsys):
    with pytest.raises(SystemExit) as stop:
        parse_config(RECIPE, ["--preset", "paper", "--lr", "0.3", "--print-config"], "train")
    assert stop.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["lr"] == 0.3 and printed["epochs"] == 30 and printed["resolved_in"] == "train"


def test_config_reruns_a_run_and_explicit_flags_win(tmp_path):
    first, _ = parse_config(RECIPE, ["--preset", "paper", "--seed", "7", "--output-dir", str(tmp_path)], "train")
    save_resolved_config(first, tmp_path)
    again, _ = parse_config(RECIPE, ["--config", str(tmp_path / "config.json"), "--epochs", "2"], "train")
    assert (again.seed, again.lr, again.augment, again.epochs, again.preset) == (7, 0.1, True, 2, "paper")
    same, _ = parse_config(RECIPE, ["--config", str(tmp_path)], "train")  # the run directory works too
    assert vars(same) | {"config": None} == vars(first)
    tested, _ = parse_config(RECIPE, ["--config", str(tmp_path), "--checkpoint", _checkpoint(tmp_path)], "test")
    assert tested.seed == 7 and tested.output_dir == "runs/default"  # test.py does not write into the run


def test_auto_scale_lr_uses_the_presets_reference_batch_once(tmp_path):
    cfg, _ = parse_config(RECIPE, ["--preset", "paper", "--batch-size", "8", "--auto-scale-lr",
                                   "--output-dir", str(tmp_path)], "train")
    assert cfg.lr == pytest.approx(0.1 * 8 / 32) and cfg.reference_batch_size == 8
    save_resolved_config(cfg, tmp_path)
    rerun, _ = parse_config(RECIPE, ["--config", str(tmp_path)], "train")
    assert rerun.lr == pytest.approx(cfg.lr)  # recorded for its own batch: not scaled twice
    accumulated, _ = parse_config(RECIPE, ["--preset", "paper", "--batch-size", "8", "--accum-steps", "4",
                                           "--auto-scale-lr"], "train")
    assert accumulated.lr == pytest.approx(0.1) and accumulated.reference_batch_size == 32  # 8 x 4 per step
    with pytest.raises(SystemExit):  # no preset, no reference batch
        parse_config(RECIPE, ["--auto-scale-lr"], "train")


def _checkpoint(tmp_path, **config) -> str:
    path = tmp_path / "last.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "config": config}, path)
    return str(path)


def test_test_mode_fills_defaults_from_the_checkpoint_and_explicit_flags_win(tmp_path):
    # num_segments: a run stored before the flag got its shared name (the recipe's alias of --num-frames).
    stored = dict(variant="fake_large", num_segments=32, lr=0.7, output_dir="runs/train", augment=True, gone=1)
    checkpoint = _checkpoint(tmp_path, **stored)
    cfg, weights = parse_config(RECIPE, ["--checkpoint", checkpoint, "--jitter-min", "300", "--pretrained", "x"],
                                "test")
    assert (cfg.variant, cfg.num_frames, cfg.augment, cfg.jitter_min) == ("fake_large", 32, True, 300)
    assert cfg.output_dir == "runs/default" and cfg.pretrained is None and cfg.resolved_in == "test"
    assert set(weights) == {"w"}
    explicit, _ = parse_config(RECIPE, ["--preset", "paper", "--checkpoint", checkpoint, "--variant", "fake_small"],
                               "test")
    assert explicit.variant == "fake_small" and explicit.num_frames == 32  # the checkpoint's over the preset's
    with pytest.raises(SystemExit):
        parse_config(RECIPE, [], "test")
    with pytest.raises(CheckpointError, match="trained as 'other_net'"):
        parse_config(RECIPE, ["--checkpoint", _checkpoint(tmp_path, variant="other_net")], "test")


def test_run_config_is_rewritten_at_every_start_and_changes_are_logged(tmp_path):
    cfg, _ = parse_config(RECIPE, ["--preset", "paper", "--output-dir", str(tmp_path)], "train")
    lines: list[str] = []
    write_run_config(cfg, ["--preset", "paper"], lines.append)
    assert read_config_file(tmp_path)["epochs"] == 30 and not lines
    cfg.epochs, cfg.resume = 40, "auto"
    write_run_config(cfg, ["--preset", "paper", "--epochs", "40", "--resume", "auto"], lines.append)
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["config"]["epochs"] == 40 and record["argv"][-1] == "auto"
    assert len(lines) == 1 and "epochs" in lines[0] and "resume" in lines[0]


@pytest.mark.parametrize("policy, steps, factors, expected", [
    ("step", [2, 4], [0.1, 0.01], [1.0, 1.0, 0.1, 0.1, 0.01]),
    ("constant", [], [], [1.0] * 5),
    ("cosine", [], [], [1.0, 0.9045, 0.6545, 0.3455, 0.0955]),
])
def test_shared_schedule_flags_have_one_meaning(policy, steps, factors, expected):
    argv = ["--lr", "1", "--epochs", "5", "--lr-policy", policy]
    argv += ["--lr-steps", *map(str, steps), "--lr-factors", *map(str, factors)] if steps else []
    cfg, _ = parse_config(RECIPE, argv, "train")
    schedule = RECIPE.schedule(cfg)
    assert [schedule.lr_at(epoch) for epoch in range(5)] == pytest.approx(expected, abs=1e-4)


def test_step_schedule_refuses_mismatched_or_zero_milestones():
    for extra in (["--lr-steps", "2", "4", "--lr-factors", "0.1"], ["--lr-steps", "0", "--lr-factors", "1"]):
        cfg, _ = parse_config(RECIPE, extra, "train")
        with pytest.raises(RecipeError):
            RECIPE.schedule(cfg)


def test_preprocessing_statistics_come_from_the_variant():
    cfg, _ = parse_config(RECIPE, ["--variant", "fake_small"], "train")
    clip = torch.full((1, 3, 1, 1, 1), 255, dtype=torch.uint8)
    inputs, _ = RECIPE.preprocess(cfg)(clip, None, False)
    assert torch.allclose(inputs, torch.ones_like(inputs))  # (1 - 0.5) / 0.5
