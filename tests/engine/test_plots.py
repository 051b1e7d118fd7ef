"""Pillow PNG writers: files are written with sensible sizes and content; bad input is refused clearly."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.plots import (colormap, nice_ticks, save_confusion_png, save_curve_panels_png, save_curves_png,
                          save_heatmap_grid_png)


def test_nice_ticks_and_colormap():
    assert nice_ticks(0, 1, target=6) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(3, 97)
    assert ticks[0] <= 3 and ticks[-1] >= 97 and len(ticks) <= 8
    assert nice_ticks(5, 5)[0] < 5 < nice_ticks(5, 5)[-1]  # a constant series gets a band around it
    assert colormap(np.array([0.0, 1.0])).tolist() == [[68, 1, 84], [253, 231, 37]]  # viridis ends


def test_curves_png(tmp_path):
    series = {"train": [(i, 1.0 / (i + 1)) for i in range(50)], "val": [(0, 1.0), (49, float("nan"))]}
    path = save_curves_png(series, tmp_path / "sub" / "curves.png", title="loss", ylabel="loss")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (500, 800, 3)
    # Both line colours (tab:blue, tab:orange) are drawn.
    assert (image == [31, 119, 180]).all(axis=-1).sum() > 100
    assert (image == [255, 127, 14]).all(axis=-1).sum() > 10
    panels = save_curve_panels_png({"loss": series, "lr": {"lr": [(0, 0.1), (10, 0.001)]}}, tmp_path / "p.png",
                                   log_y=["lr"])
    assert Image.open(panels).size == (1280, 400)
    with pytest.raises(ValueError):
        save_curve_panels_png({}, tmp_path / "empty.png")


def test_confusion_png(tmp_path):
    matrix = np.array([[5, 1, 0], [0, 3, 3], [1, 0, 9]])
    path = save_confusion_png(matrix, ["walk", "run", "jump"], tmp_path / "cm.png")
    image = Image.open(path)
    assert image.width > 3 * 48 and image.height > 3 * 48
    big = save_confusion_png(np.eye(174), None, tmp_path / "cm174.png")  # names omitted past 60 classes
    assert Image.open(big).width < 1400
    with pytest.raises(ValueError, match="square"):
        save_confusion_png(np.zeros((2, 3)), None, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="class names"):
        save_confusion_png(matrix, ["a"], tmp_path / "bad.png")


def test_heatmap_grid_png(tmp_path):
    maps = np.random.default_rng(0).random((2, 4, 7, 7))
    frames = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    path = save_heatmap_grid_png(maps, tmp_path / "att.png", titles=[f"t={i}" for i in range(4)],
                                 row_titles=["layer 1", "layer 12"], background_frames=frames, cell_size=64)
    image = Image.open(path)
    assert image.width >= 4 * 64 and image.height >= 2 * 64
    ragged = save_heatmap_grid_png([[np.ones((3, 3))], [np.arange(16.0).reshape(4, 4), np.eye(5)]],
                                   tmp_path / "ragged.png")
    assert ragged.is_file()
    with pytest.raises(ValueError, match="background_frames"):
        save_heatmap_grid_png(maps, tmp_path / "bad.png", background_frames=np.zeros((3, 8, 8, 3)))
