"""The visual-explanation command: rendering rules and an end-to-end run on generated frame folders."""
from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from common.data.video_reader import VideoReader
from projects.st_abn import build_model
from projects.st_abn.explain import jet, main, normalise_temporal, render


def test_temporal_normalisation_plain_and_with_the_reference_boundary_rule() -> None:
    weights = np.array([0.9, 0.2, 0.4, 0.6, 0.05])
    np.testing.assert_allclose(normalise_temporal(weights), (weights - 0.05) / 0.85)
    boundary = normalise_temporal(weights, reference_boundary=True)
    inner = np.array([0.43, 0.2, 0.4, 0.6, 0.43])  # ends replaced by the mean 0.43 for the min-max
    np.testing.assert_allclose(boundary[1:-1], ((inner - 0.2) / 0.4)[1:-1])
    np.testing.assert_allclose(boundary[[0, -1]], weights[[0, -1]])  # then put back raw


def test_render_blends_raw_maps_and_stacks_the_bar() -> None:
    frames = np.full((3, 8, 6, 3), 100, np.uint8)
    spatial = np.stack([np.zeros((2, 2)), np.full((2, 2), 0.5), np.ones((2, 2))])
    images = render(frames, spatial, np.array([0.1, 0.5, 0.3]))
    assert images["spatial"].shape == (3, 8, 6, 3) and images["temporal"].shape == (3, 25 + 8, 6, 3)
    expected = np.round(0.6 * 100 + 0.4 * jet(np.array(1.0)).astype(float)).astype(np.uint8)
    np.testing.assert_array_equal(images["spatial"][2, 4, 3], expected)  # raw sigmoid value 1: no min-max
    np.testing.assert_array_equal(images["temporal"][1, 0, 0], jet(np.array(1.0)))  # the largest weight
    np.testing.assert_array_equal(images["temporal"][0, 0, 0], jet(np.array(0.0)))
    np.testing.assert_array_equal(images["temporal"][:, 25:], frames)
    np.testing.assert_array_equal(jet(np.array([0.0, 0.5, 1.0])), [[0, 0, 128], [128, 255, 128], [128, 0, 0]])


def test_explain_end_to_end_on_frame_folders(synthetic_dataset, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("st_abn_tiny", 4, num_frames=8)
    checkpoint = tmp_path / "last.pth"
    stored = {"variant": "st_abn_tiny", "num_frames": 8, "crop_size": 64, "scale_size": 64,
              "frame_template": synthetic_dataset.frame_template, "val_list": "annotations/rawframes/val.txt"}
    torch.save({"model": model.state_dict(), "config": stored}, checkpoint)
    out = tmp_path / "explain"
    written = main(["--checkpoint", str(checkpoint), "--data-root", str(synthetic_dataset.root), "--limit", "3",
                    "--test-batch-size", "2", "--device", "cpu", "--out", str(out)])
    assert len(written) == 3
    folder = written[0]
    assert sorted(p.name for p in (folder / "spatial").iterdir())[-1] == "007.png"
    assert Image.open(folder / "temporal" / "000.png").size == (64, 25 + 64)
    assert Image.open(folder / "grid.png").size == (8 * 64 + 7 * 4, 25 + 64)
    with VideoReader(folder / "attention.mp4") as reader:
        assert reader.num_frames == 8
    with np.load(folder / "attention.npz") as arrays:
        assert arrays["spatial"].shape == (8, 4, 4) and arrays["temporal"].shape == (8,)
        assert ((arrays["temporal"] > 0) & (arrays["temporal"] < 1)).all()
    assert len(json.loads((folder / "prediction.json").read_text())["top5"]) == 4
    # Attention editing on a named frame folder: the given weights are the ones drawn.
    edited = main(["--checkpoint", str(checkpoint), "--data-root", str(synthetic_dataset.root),
                   "--video", f"frames/{folder.name}", "--device", "cpu", "--out", str(tmp_path / "edit"),
                   "--temporal-attention", *["1", "0"] * 4])
    with np.load(edited[0] / "attention.npz") as arrays:
        np.testing.assert_allclose(arrays["temporal"], [1, 0] * 4)
