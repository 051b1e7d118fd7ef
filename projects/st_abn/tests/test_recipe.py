"""ST-ABN entry points: the presets carry the reference configs, the schedule, optimiser, loss and the data views."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from common.engine.app import parse_config
from projects.st_abn import build_model, stabn_loss
from projects.st_abn.recipe import PRESETS, RECIPE

REFERENCE_PRESETS = ["sthv1_st_abn_32", "sthv1_st_abn_32_2", "sthv2_st_abn_32", "sthv2_st_abn_32_2"]


def _cfg(*argv: str, mode: str = "train"):
    cfg, _ = parse_config(RECIPE, list(argv), mode)
    return cfg


@pytest.mark.parametrize("name", REFERENCE_PRESETS)
def test_presets_hold_every_value_of_the_reference_configs(name: str, tmp_path) -> None:
    cfg = _cfg("--preset", name, "--data-root", str(tmp_path))
    assert (cfg.variant, cfg.num_classes, cfg.num_frames, cfg.crop_size, cfg.scale_size) == ("st_abn_r50", 174, 32,
                                                                                              224, 256)
    assert (cfg.batch_size, cfg.epochs, cfg.lr, cfg.momentum, cfg.nesterov, cfg.weight_decay, cfg.grad_clip) == (
        64, 150, 0.01, 0.9, True, 5e-4, 20.0)
    assert (cfg.lr_policy, cfg.lr_steps, cfg.lr_factors, cfg.warmup_epochs) == ("step", [75, 125], [0.1, 0.01], 0)
    assert cfg.checkpointing and cfg.flip and cfg.color_jitter and cfg.attention_loss_weight == 1.0
    assert not (cfg.reference_short_video or cfg.reference_crop or cfg.reference_color_jitter)  # correct defaults
    assert cfg.sampling == ("segments" if name.endswith("_32") else "window")
    assert cfg.sampling_rate == (1 if name.endswith("_32") else 2)
    assert cfg.frame_template == ("{:05d}.jpg" if name.startswith("sthv1") else "{:06d}.jpg")
    assert cfg.log_every == (100 if name.startswith("sthv1") else 200)
    baseline = _cfg("--preset", name.replace("st_abn", "slowonly"), "--data-root", str(tmp_path))
    assert baseline.variant == "slowonly_r50" and baseline.lr_steps == [75, 125] and baseline.sampling == cfg.sampling
    assert set(PRESETS) == {*REFERENCE_PRESETS, *(n.replace("st_abn", "slowonly") for n in REFERENCE_PRESETS),
                            "tiny_synthetic"}


def test_schedule_optimiser_and_loss_are_the_reference_ones(tmp_path) -> None:
    cfg = _cfg("--preset", "sthv1_st_abn_32", "--data-root", str(tmp_path))
    schedule = RECIPE.schedule(cfg)
    lrs = [schedule.lr_at(epoch + 0.5) for epoch in (0, 74, 75, 124, 125, 149)]
    assert lrs == pytest.approx([1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4])
    model = build_model("st_abn_tiny", 5, num_frames=4, training_outputs=True)
    optimizer = RECIPE.optimizer(cfg, model, log=lambda message: None)
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["nesterov"]
    assert optimizer.param_groups[0]["weight_decay"] == 5e-4  # BN and biases too, as the reference
    outputs = model.train()(torch.randn(2, 3, 4, 32, 32))
    labels = torch.tensor([[1], [3]])
    loss = RECIPE.loss(cfg)
    torch.testing.assert_close(loss(outputs, labels), stabn_loss(outputs, labels)["loss"])  # training: both branches
    torch.testing.assert_close(loss(outputs["logits"], labels), F.cross_entropy(outputs["logits"], labels.view(-1)))
    half = RECIPE.loss(_cfg("--preset", "sthv1_st_abn_32", "--data-root", str(tmp_path),
                            "--attention-loss-weight", "0.5"))
    torch.testing.assert_close(half(outputs, labels), stabn_loss(outputs, labels, 0.5)["loss"])
    correct = RECIPE.accuracy(cfg)(outputs, labels.view(-1))
    assert set(correct) == {"top1", "top5"}


def test_build_model_follows_the_flags(tmp_path) -> None:
    cfg = _cfg("--preset", "tiny_synthetic", "--data-root", str(tmp_path), "--num-classes", "4",
               "--checkpointing", "--dropout", "0.2")
    model = RECIPE.build_model(cfg)
    assert model.training_outputs and model.layer1[0].checkpointing and model.dropout.p == 0.2
    baseline = RECIPE.build_model(_cfg("--preset", "tiny_synthetic", "--data-root", str(tmp_path),
                                       "--num-classes", "4", "--variant", "slowonly_r50", "--num-frames", "8"))
    assert baseline.attention is None and not baseline.training_outputs


def test_datasets_views_and_sampling(synthetic_dataset) -> None:
    root = str(synthetic_dataset.root)
    cfg = _cfg("--preset", "tiny_synthetic", "--data-root", root, "--num-frames", "4", "--num-clips", "2",
               "--num-crops", "3")
    assert cfg.num_classes == 4  # from the training list
    train = RECIPE.dataset(cfg, "train")
    sample = train[0]
    assert sample["clip"].shape == (3, 4, 56, 56) and sample["clip"].dtype == torch.uint8
    val = RECIPE.dataset(cfg, "val")
    assert val.num_views == 1 and val.sampler.test_rule == "val" and val[0]["clip"].shape == (3, 4, 56, 56)
    views = RECIPE.test_protocol(cfg)
    test = RECIPE.dataset(cfg, "test", views)
    assert (views.num_clips, views.num_crops, views.score, views.aggregate) == (2, 3, "logits", "mean")
    assert test.num_views == 6 and test.sampler.test_rule == "test" and test.sampler.uniform_test_clips == 2
    window = RECIPE.sampler(_cfg("--preset", "sthv1_st_abn_32_2", "--data-root", root))
    assert (window.num_segments, window.new_length, window.new_step) == (1, 32, 2)
    segments = RECIPE.sampler(_cfg("--preset", "sthv1_st_abn_32", "--data-root", root, "--reference-short-video"))
    assert segments.test_indices(20, 0).tolist() == [0] * 32  # the flag reaches the sampler (Q5)


def test_explain_hooks_give_the_models_own_maps(synthetic_dataset) -> None:
    cfg = _cfg("--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root), "--num-frames", "4")
    model = RECIPE.build_model(cfg).eval()
    maps = RECIPE.attention_maps(cfg, model, torch.randn(1, 3, 4, 56, 56))
    assert maps["spatial_attention"].shape == (4, 4, 4) and maps["temporal_attention"].shape == (4, 1, 1)
    assert RECIPE.explain_methods[0] == "attention" and RECIPE.explain_layers[0] == "layer4"
    records = RECIPE.dataset(cfg, "val").records[:2]
    cfg.val_list = None  # any records, no list needed
    views = RECIPE.view_dataset(cfg, records, RECIPE.test_protocol(cfg))
    assert len(views) == 2 and views[1]["clip"].shape == (3, 4, 56, 56)
