"""PNG figures the runs write, drawn with matplotlib (object-oriented ``Figure`` API, Agg rendering: no display,
no global pyplot state, safe in worker threads).

* :func:`save_curves_png` / :func:`save_curve_panels_png`: line plots of training curves (loss, lr, accuracy).
* :func:`save_confusion_png`: a confusion matrix with class names and a colour bar.
* :func:`colormap`: viridis as uint8 RGB, for callers that blend maps into frames themselves (the explain tools).

Every writer creates the parent directory and returns the path it wrote.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

Series = dict[str, Sequence[tuple[float, float]]]
DPI = 100
LONG_CLASS_NAME = 20  # characters; longer names are indexed on the axes and listed in full in a legend
CMAP = "viridis"  # perceptually uniform and readable for colour-blind viewers


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (NaN as 0) to viridis RGB uint8, shape ``values.shape + (3,)``."""
    clipped = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0), 0.0, 1.0)
    rgba = np.asarray(matplotlib.colormaps[CMAP](clipped))  # [..., 4] floats
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


def _plot_series(axes, series: Series, title: str, xlabel: str, ylabel: str, log_y: bool) -> None:
    """Lines (with markers when short) of every named series on one axes, with grid and legend."""
    for name, points in series.items():
        finite = sorted((float(x), float(y)) for x, y in points
                        if math.isfinite(float(y)) and (not log_y or float(y) > 0))
        if not finite:
            axes.plot([], [], label=name)  # keep the legend entry and the colour order
            continue
        xs, ys = zip(*finite)
        axes.plot(xs, ys, label=name, linewidth=2, marker="o" if len(finite) <= 30 else None, markersize=4)
    if log_y:
        axes.set_yscale("log")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    if ylabel:
        axes.set_ylabel(ylabel)
    axes.grid(True, color="0.88")
    if series:
        axes.legend(loc="upper right")


def save_curve_panels_png(panels: dict[str, Series], path: str | Path, title: str = "",
                          xlabel: str = "step", log_y: Sequence[str] = (), columns: int = 2) -> Path:
    """Several line plots side by side, one per panel name (e.g. ``{"loss": {...}, "top-1 (%)": {...}}``);
    640 x 400 pixels per panel.

    Args:
        panels: panel title -> series name -> list of ``(x, y)`` points. Non-finite y values are skipped.
        path: output PNG path.
        title: figure title drawn above the panels.
        xlabel: label of every x axis.
        log_y: panel names whose y axis is logarithmic (e.g. the learning rate).
        columns: panels per row.
    """
    if not panels:
        raise ValueError("save_curve_panels_png needs at least one panel")
    columns = max(1, min(columns, len(panels)))
    rows = math.ceil(len(panels) / columns)
    header = 0.4 if title else 0.0
    figure = Figure(figsize=(6.4 * columns, 4.0 * rows + header), dpi=DPI, layout="constrained")
    if title:
        figure.suptitle(title)
    for index, (name, series) in enumerate(panels.items()):
        _plot_series(figure.add_subplot(rows, columns, index + 1), series, name, xlabel, name, name in log_y)
    return _save(figure, path)


def save_curves_png(series: Series, path: str | Path, title: str = "", xlabel: str = "step",
                    ylabel: str = "", log_y: bool = False) -> Path:
    """One 800 x 500 line plot of several named series, each a list of ``(x, y)`` points, with a legend."""
    figure = Figure(figsize=(8.0, 5.0), dpi=DPI, layout="constrained")
    _plot_series(figure.add_subplot(), series, title, xlabel, ylabel, log_y)
    return _save(figure, path)


def save_confusion_png(matrix: np.ndarray, class_names: Sequence[str] | None, path: str | Path,
                       title: str = "confusion matrix", normalize: bool = True) -> Path:
    """A confusion matrix (rows = true class, columns = predicted class) as a coloured grid.

    With ``normalize`` each row is divided by its count, so colours show per-class recall; cells hold the
    numbers when they are large enough to be read, and class names label the axes (omitted past 60 classes); long
    names are indexed on the axes and written out in full, wrapped, in a legend beside the grid.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion matrix must be square 2-D, got shape {matrix.shape}")
    num_classes = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for a {num_classes}-class confusion matrix")
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        values = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        high = 1.0
    else:
        values, high = matrix, max(float(matrix.max()), 1.0)
    cell = int(np.clip(900 // num_classes, 4, 48)) / DPI  # inches per cell
    show_names = num_classes <= 60
    # Long names (SSv2's run to 70 characters) would squeeze the grid or be cut: the axes then show class indices
    # and a legend beside the grid names each index in full, wrapped.
    legend = show_names and max(len(n) for n in names) > LONG_CLASS_NAME
    labels = [str(i) for i in range(num_classes)] if legend else names
    margin = (0.12 * max(len(n) for n in labels) + 0.8) if show_names else 0.8  # room for the rotated labels
    legend_lines = [textwrap.fill(f"{i}: {name}", 44, subsequent_indent="    ") for i, name in enumerate(names)]
    legend_width = 4.0 if legend else 0.0
    height = max(num_classes * cell + margin + 0.6, 0.17 * sum(line.count("\n") + 1 for line in legend_lines))
    figure = Figure(figsize=(num_classes * cell + margin + 1.4 + legend_width, height), dpi=DPI, layout="constrained")
    if legend:
        axes, legend_axes = figure.subplots(1, 2, width_ratios=(num_classes * cell + margin + 1.4, legend_width))
        legend_axes.axis("off")
        legend_axes.text(0.0, 1.0, "\n".join(legend_lines), va="top", ha="left", fontsize=8, family="monospace",
                         transform=legend_axes.transAxes)
    else:
        axes = figure.add_subplot()
    image = axes.imshow(values, cmap=CMAP, vmin=0.0, vmax=high, interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, shrink=min(1.0, 3.0 / max(num_classes * cell, 1e-6)))
    if cell * DPI >= 28:
        font = max(6, min(10, int(cell * DPI) // 4))
        for row in range(num_classes):
            for column in range(num_classes):
                text = f"{values[row, column]:.2f}" if normalize else f"{int(matrix[row, column])}"
                colour = "black" if values[row, column] > 0.6 * high else "white"
                axes.text(column, row, text, ha="center", va="center", color=colour, fontsize=font)
    if show_names:
        font = max(6, min(10, int(cell * DPI) - 4))
        axes.set_xticks(range(num_classes), labels, rotation=0 if legend else 90, fontsize=font)
        axes.set_yticks(range(num_classes), labels, fontsize=font)
    else:
        axes.set_xticks([])
        axes.set_yticks([])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    return _save(figure, path)

