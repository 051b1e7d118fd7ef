"""The recipe: presets parse, Kinetics and Jester lists (label base, frame folders), Jester colour jitter, the
optimiser's weight-decay groups (Q7), GhostNet's eval ReLU (Q1), the 10 x 3 summed protocol, reference checkpoints."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from common.engine.app import parse_config
from common.engine.recipe import RecipeError
from projects.efficient_slowfast import convert_reference_state_dict
from projects.efficient_slowfast.configs import PRESETS
from projects.efficient_slowfast.recipe import RECIPE, JesterColourJitter


def _config(tmp_path, *argv: str, mode: str = "train") -> argparse.Namespace:
    cfg, _ = parse_config(RECIPE, ["--data-root", str(tmp_path), "--device", "cpu", *argv], mode)
    return cfg


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_parses_and_resolves(preset: str, tmp_path) -> None:
    cfg = _config(tmp_path, "--preset", preset, "--train-list", "train.txt")
    assert cfg.variant == PRESETS[preset]["variant"] and cfg.lr == PRESETS[preset]["lr"]
    schedule = RECIPE.schedule(cfg)
    assert schedule.lr_at(0.0) == pytest.approx(0.01)  # every warm-up (the tiny one too) starts at 0.01
    # The fork's CHECKPOINT_PERIOD 1: a snapshot, and precise BN before it, after every epoch.
    assert cfg.save_every == (0 if preset == "tiny_synthetic" else 1) and cfg.precise_bn_batches > 0


def test_schedules_reproduce_the_reference_warmups(tmp_path) -> None:
    ghost = RECIPE.schedule(_config(tmp_path, "--preset", "k400_ghostnet_w1", "--train-list", "t"))
    assert ghost.lr_at(17.0) == pytest.approx(0.0055) and ghost.lr_at(34.0) == pytest.approx(0.001)  # Q5: down
    assert ghost.lr_at(55.0) == pytest.approx(1e-4) and ghost.lr_at(99.0) == pytest.approx(1e-5)
    sfv2 = RECIPE.schedule(_config(tmp_path, "--preset", "k400_sfv2_w2", "--train-list", "t"))
    assert {sfv2.lr_at(e) for e in (0.0, 7.0, 14.0, 29.9)} == {0.01}  # a no-op warm-up
    dual = RECIPE.schedule(_config(tmp_path, "--preset", "k400_dual", "--train-list", "t"))
    assert dual.lr_at(15.0) == pytest.approx(0.055) and dual.lr_at(145.0) == pytest.approx(1e-5)


def test_kinetics_and_jester_lists(tmp_path) -> None:
    (tmp_path / "k.lst").write_text("abseiling/a.mp4 0\nzumba/b.mp4 399\n")
    cfg = _config(tmp_path, "--train-list", "k.lst")
    records = RECIPE.records(cfg, "k.lst", "--train-list")
    assert [r.label for r in records] == [0, 399] and records[1].path == str(tmp_path / "zumba/b.mp4")
    (tmp_path / "jester.txt").write_text("34870 27\n56557 1\n")  # Efficient-3DCNNs: 1-based
    jester = ["--dataset", "jester", "--num-classes", "27", "--train-list", "jester.txt", "--video-root", "v"]
    with pytest.raises(RecipeError, match="add --label-base 1"):
        RECIPE.records(_config(tmp_path, *jester), "jester.txt", "--train-list")
    records = RECIPE.records(_config(tmp_path, *jester, "--label-base", "1"), "jester.txt", "--train-list")
    assert [r.label for r in records] == [26, 0] and records[0].path == str(tmp_path / "v/34870/34870.mp4")
    records = RECIPE.records(_config(tmp_path, *jester, "--label-base", "1", "--reader", "frames"), "jester.txt", "x")
    assert records[1].path == str(tmp_path / "v/56557")


def test_jester_colour_jitter_is_pil_enhance_with_one_factor_set_per_clip() -> None:
    generator = torch.Generator().manual_seed(5)
    clip = torch.randint(0, 256, (3, 3, 12, 10), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = JesterColourJitter()({"clip": clip, "label": 2}, generator)["clip"]
    factors = (0.4 + torch.rand(3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)).tolist()
    assert all(0.4 <= f <= 1.4 for f in factors) and out.dtype == torch.uint8 and out.shape == clip.shape
    for t in range(3):
        image = Image.fromarray(clip[t].permute(1, 2, 0).numpy())
        for enhancer, factor in zip((ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color), factors):
            image = enhancer(image).enhance(factor)
        np.testing.assert_array_equal(out[t].permute(1, 2, 0).numpy(), np.asarray(image))


@pytest.mark.parametrize("preset, bn_tensors, decayed_by_reference", [
    ("k400_sfv2_w2", 240, 224), ("k400_mbv2_w1", 224, 208), ("k400_ghostnet_w1", 336, 300),
    ("k400_sf_w2_g3", 212, 4), ("k400_dual", 228, 0)])
def test_weight_decay_groups_and_the_reference_bn_rule(preset: str, bn_tensors: int, decayed_by_reference: int,
                                                        tmp_path) -> None:
    """Q7 (spec table): the fork exempts parameters by name ('bn' in it), so most efficient-net BNs are decayed."""
    model = None
    for reference_rule, expected in ((False, 0), (True, decayed_by_reference)):
        cfg = _config(tmp_path, "--preset", preset, "--train-list", "t",
                      "--reference-bn-weight-decay" if reference_rule else "--no-reference-bn-weight-decay")
        model = model or RECIPE.build_model(cfg)
        optimizer = RECIPE.optimizer(cfg, model, log=lambda message: None)
        bn = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d) for p in m.parameters()}
        decay_group = next(g for g in optimizer.param_groups if g["weight_decay"] > 0)
        assert len(bn) == bn_tensors and sum(id(p) in bn for p in decay_group["params"]) == expected
        assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.9


def test_ghostnet_eval_relu_and_the_summed_protocol(tmp_path) -> None:
    cfg = _config(tmp_path, "--preset", "jester_ghostnet_w1", "--variant", "slowfast_tiny", "--no-count-flops",
                  "--train-list", "t", "--width-mult", "0.25")
    assert cfg.eval_relu and cfg.num_clips == 10 and cfg.num_crops == 3
    model = RECIPE.build_model(cfg)
    torch.nn.init.normal_(model.head.fc.bias, std=5.0)
    clips = torch.randn(2, 3, 8, 32, 32)
    assert (model.train()(clips) < 0).any()  # training: raw logits
    with torch.no_grad():
        assert (model.eval()(clips) >= 0).all()  # eval: ReLU'd logits, as the reference's GhostNet head
    views = RECIPE.test_protocol(cfg)
    assert (views.aggregate, views.score, views.num_clips * views.num_crops) == ("sum", "logits", 30)
    softmax = RECIPE.test_protocol(_config(tmp_path, "--preset", "k400_sfv2_w2", "--train-list", "t"))
    assert (softmax.aggregate, softmax.score) == ("sum", "softmax")


def test_reference_checkpoints_are_converted_and_flags_checked(tmp_path, capsys) -> None:
    cfg = _config(tmp_path, "--variant", "slowfast_tiny", "--train-list", "t", "--width-mult", "0.25")
    ours = RECIPE.build_model(cfg).state_dict()
    assert RECIPE.weights({"model": ours}, cfg).keys() == ours.keys()
    reference = {"model_state": {"module.head.classifier.1.weight": torch.zeros(3, 4),
                                 "module.s2.pathway0_channel_32.features.0.banch2.0.weight": torch.zeros(1)},
                 "epoch": 4}
    assert set(RECIPE.weights(reference, cfg)) == set(convert_reference_state_dict(reference, "slowfast_tiny"))
    for argv, message in ((["--variant", "slowfast_ghostnet", "--groups", "3", "--train-list", "t"],
                           "--groups does not apply"), (["--num-frames", "10", "--train-list", "t"],
                                                        "multiple of --alpha"), ([], "--train-list is required")):
        with pytest.raises(SystemExit):
            _config(tmp_path, *argv)
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("variant, included", [("slowfast_dual_r50", 114), ("slowfast_shufflenetv2", 8),
                                               ("slowfast_mobilenetv2", 8)])
def test_multigrid_sub_batch_bn_follows_the_reference_norm_module(variant: str, included: int, tmp_path) -> None:
    """Only the BNs the reference builds with ``norm_module`` (CMDA's; every BN of the R50s) become sub-batch BNs."""
    from projects.efficient_slowfast import build_model

    model = build_model(variant)
    bns = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert sum(RECIPE.multigrid_bn_include(n, m) for n, m in bns) == included
    cfg = _config(tmp_path, "--preset", "k400_ghostnet_w1", "--train-list", "t")
    assert cfg.multigrid_long and cfg.multigrid_short and RECIPE.multigrid_capability(cfg)[:2] == (True, True)
