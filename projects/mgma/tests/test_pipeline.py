"""MGMA entry points: the released recipe's values, presets, the optimiser and schedule, the data dialect, the test
protocol, reference checkpoints through test.py's reader, and the attention-map command."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from common.data.video_reader import VideoReader
from common.engine.app import parse_config
from common.tools import build_lists
from projects.mgma import attention
from projects.mgma.configs import PRESETS
from projects.mgma.model import build_model
from projects.mgma.recipe import RECIPE
from projects.mgma.tests.test_model import to_reference_layout


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_resolves_and_explicit_flags_win(name: str, tmp_path: Path) -> None:
    cfg, _ = parse_config(RECIPE, ["--preset", name, "--data-root", str(tmp_path), "--lr", "0.123"], "train")
    assert cfg.lr == 0.123 and cfg.variant == PRESETS[name]["variant"]
    model = RECIPE.build_model(cfg) if name.startswith(("tiny", "ucf101_shufflenetv2")) else None
    if model is not None:
        assert model.fc.out_features == cfg.num_classes


def test_released_recipe_values(tmp_path: Path) -> None:
    cfg, _ = parse_config(RECIPE, ["--preset", "ucf101_r3d34_tsa_g8", "--data-root", str(tmp_path)], "train")
    expected = dict(variant="mgma_r3d34", mgma_type="TSA", num_groups=8, num_classes=101, num_frames=8,
                    sampling_rate=8, target_fps=30.0, jitter_min=128, jitter_max=160, crop_size=112, scale_size=128,
                    test_crop_size=128, num_clips=3, num_crops=1, batch_size=32, epochs=50, lr=0.1, momentum=0.9,
                    nesterov=True, weight_decay=1e-4, bn_weight_decay=0.0, warmup_epochs=10.0, warmup_start_lr=1e-4,
                    precise_bn_batches=100, eval_every=5, save_every=5, seed=0)
    assert {key: getattr(cfg, key) for key in expected} == expected
    schedule = RECIPE.schedule(cfg)  # steps_with_relative_lrs [0, 30, 40, 50] x [1, .1, .01, .001] after warm-up
    lrs = [schedule.lr_at(epoch) for epoch in (0.0, 5.0, 10.0, 29.9, 30.0, 39.9, 40.0, 49.9)]
    assert lrs == pytest.approx([1e-4, 1e-4 + 0.5 * (0.1 - 1e-4), 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    protocol = RECIPE.test_protocol(cfg)
    assert (protocol.num_clips, protocol.num_crops, protocol.aggregate, protocol.score) == (3, 1, "sum", "softmax")


def test_optimizer_is_nesterov_sgd_without_decay_on_bn_only() -> None:
    cfg, _ = parse_config(RECIPE, ["--preset", "tiny_synthetic"], "train")
    model = RECIPE.build_model(cfg)
    optimizer = RECIPE.optimizer(cfg, model, log=lambda _: None)
    groups = {group["name"]: group for group in optimizer.param_groups}
    assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.9
    bn = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d) for p in m.parameters()}
    assert {id(p) for p in groups["norm"]["params"]} == bn and groups["norm"]["weight_decay"] == 0.0
    decayed = {id(p) for p in groups["decay"]["params"]}
    assert id(model.fc.bias) in decayed and id(model.layer1[0].se.fc1.bias) in decayed  # as PySlowFast


def test_recipe_refuses_what_the_model_cannot_do() -> None:
    with pytest.raises(SystemExit):
        parse_config(RECIPE, ["--variant", "r3d34", "--num-groups", "4"], "train")
    with pytest.raises(SystemExit):
        parse_config(RECIPE, ["--preset", "ucf101_r3d34_tsa_g8", "--crop-size", "120"], "train")
    cfg, _ = parse_config(RECIPE, ["--preset", "tiny_synthetic", "--mgma-type", "UA", "--num-groups", "4"], "train")
    model = RECIPE.build_model(cfg)
    assert sorted(model.layer2[1].mgma.branches) == ["unified"] and model.position_pooling == "softmax"


def test_data_dialect_reads_build_lists_output(synthetic_dataset, tmp_path: Path) -> None:
    cfg, _ = parse_config(RECIPE, ["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root)],
                          "train")
    train = RECIPE.dataset(cfg, "train")
    item = train[0]
    assert item["clip"].shape == (3, 8, 64, 64) and item["clip"].dtype == torch.uint8
    cfg.scale_size = cfg.test_crop_size = 80  # the fully convolutional test view (2x2 head positions)
    views = RECIPE.test_protocol(cfg)
    test = RECIPE.dataset(cfg, "test", views)
    assert len(test) == len(test.records) * 2 and test[1]["clip"].shape == (3, 8, 80, 80)
    model = RECIPE.build_model(cfg).eval()
    inputs, _ = RECIPE.preprocess(cfg)(test[1]["clip"][None], None, False)
    with torch.no_grad():
        assert model.position_logits(inputs).shape == (1, 1, 2, 2, 4)
    # UCF101-style official split files -> 0-based csv -> the recipe's reader.
    splits = tmp_path / "ucfTrainTestlist"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 A\n2 B\n")
    (splits / "trainlist01.txt").write_text("B/v_B_g01_c01.avi 2\nA/v_A_g01_c01.avi 1\n")
    assert build_lists.main(["ucf101", "--labels", str(splits / "classInd.txt"), "--split",
                             str(splits / "trainlist01.txt"), "--out", str(tmp_path / "train.csv")]) == 0
    cfg.data_root, cfg.dataset, cfg.num_classes = str(tmp_path), "ucf101", 2
    from projects.mgma.data import read_records
    assert [r.label for r in read_records(cfg, "train.csv", "--train-list")] == [1, 0]


def test_reference_checkpoint_loads_through_the_recipe(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ours = build_model("mgma_tiny", 4, mgma_type="SA")
    config = ours.config
    reference = {"model_state": to_reference_layout(ours.state_dict(), config.backbone, config.blocks, "SA"),
                 "epoch": 49, "cfg": "MGMA:\n  TYPE: SA\n"}
    path = tmp_path / "checkpoint_epoch_00050.pyth"
    torch.save(reference, path)
    cfg, weights = parse_config(RECIPE, ["--checkpoint", str(path), "--variant", "mgma_tiny", "--mgma-type", "SA"],
                                "test")
    assert cfg.num_classes == 4
    model = RECIPE.build_model(cfg)
    model.load_state_dict(weights, strict=True)
    clips = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(clips).softmax(-1), ours.eval()(clips).softmax(-1))


def test_attention_command_writes_png_mp4_and_npz(synthetic_dataset, tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "model.pth"
    torch.save({"model": build_model("mgma_tiny", 4).state_dict()}, path)
    video = synthetic_dataset.root / "videos" / sorted(p.name for p in (synthetic_dataset.root / "videos").iterdir())[0]
    (summary,) = attention.main(["--checkpoint", str(path), "--variant", "mgma_tiny", "--num-frames", "8",
                                 "--sampling-rate", "3", "--scale-size", "64", "--test-crop-size", "64", "--video",
                                 str(video), "--unit", "layer3.1", "--output-dir", str(tmp_path / "out")])
    (explained,) = summary["explained"].values()
    assert explained["maps"] == ["layer3.1/temporal", "layer3.1/spatial", "layer3.1/combined"]
    assert Path(explained["grid"]).stat().st_size > 0
    maps = np.load(Path(explained["grid"]).parent / "maps.npz")
    assert maps["layer3.1/temporal"].shape == (8, 64, 64)  # aligned to the clip's frames and size
    with VideoReader(explained["mp4"]) as reader:
        assert reader.num_frames == 8 and reader.width == 4 * 192  # the frames, then 3 maps (x3 upscaled)
    with pytest.raises(SystemExit, match="choose from layer2.1/"):
        attention.main(["--checkpoint", str(path), "--variant", "mgma_tiny", "--video", str(video), "--unit",
                        "layer4.0", "--scale-size", "64", "--test-crop-size", "64", "--output-dir", str(tmp_path)])
