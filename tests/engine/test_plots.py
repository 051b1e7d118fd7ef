"""matplotlib PNG writers: files are written with sensible sizes and content; bad input is refused clearly."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.plots import colormap, save_confusion_png, save_curve_panels_png, save_curves_png


def _near(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 10) -> int:
    """Pixels within ``tolerance`` of ``colour`` on every channel."""
    return int((np.abs(image.astype(int) - colour) <= tolerance).all(axis=-1).sum())


def test_colormap_is_viridis():
    assert colormap(np.array([0.0, 1.0, np.nan])).tolist() == [[68, 1, 84], [253, 231, 37], [68, 1, 84]]
    assert colormap(np.zeros((2, 3))).shape == (2, 3, 3)


def test_curves_png(tmp_path):
    series = {"train": [(i, 1.0 / (i + 1)) for i in range(50)], "val": [(0, 1.0), (49, float("nan"))]}
    path = save_curves_png(series, tmp_path / "sub" / "curves.png", title="loss", ylabel="loss")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (500, 800, 3)
    # Both line colours (matplotlib's first two, tab:blue and tab:orange) are drawn, on a mostly white figure.
    assert _near(image, (31, 119, 180)) > 100 and _near(image, (255, 127, 14)) > 10
    assert _near(image, (255, 255, 255), 0) > 0.5 * image.shape[0] * image.shape[1]
    panels = save_curve_panels_png({"loss": series, "lr": {"lr": [(0, 0.1), (10, 0.001)]}}, tmp_path / "p.png",
                                   log_y=["lr"], title="run")
    assert Image.open(panels).size == (1280, 440)
    with pytest.raises(ValueError):
        save_curve_panels_png({}, tmp_path / "empty.png")


def test_confusion_png(tmp_path):
    matrix = np.array([[5, 1, 0], [0, 3, 3], [1, 0, 9]])
    path = save_confusion_png(matrix, ["walk", "run", "jump"], tmp_path / "cm.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[1] > 3 * 48 and image.shape[0] > 3 * 48
    assert _near(image, tuple(colormap(np.array(0.9)).tolist()), 3) > 1000  # the 9 / 10 cell, in viridis
    big = save_confusion_png(np.eye(174), None, tmp_path / "cm174.png")  # names omitted past 60 classes
    assert 174 * 4 < Image.open(big).width < 1400
    with pytest.raises(ValueError, match="square"):
        save_confusion_png(np.zeros((2, 3)), None, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="class names"):
        save_confusion_png(matrix, ["a"], tmp_path / "bad.png")


def test_confusion_png_indexes_long_class_names_and_lists_them_in_full(tmp_path, monkeypatch):
    import matplotlib.axes

    names = ["Moving something from left to right", "Moving something from right to left", "walk"]
    drawn = []
    monkeypatch.setattr(matplotlib.axes.Axes, "text", lambda self, *a, **k: drawn.append(a[2]))
    save_confusion_png(np.eye(3), names, tmp_path / "long.png")
    legend = [text for text in drawn if "0: " in text]
    flat = " ".join(legend[0].split()) if legend else ""  # the legend's wrapped lines joined again
    assert all(f"{i}: {name}" in flat for i, name in enumerate(names))  # every name in full, none cut

