"""PNG figures drawn with Pillow only (no matplotlib dependency).

Three writers cover what the projects need:

* :func:`save_curves_png` / :func:`save_curve_panels_png`: line plots of training curves (loss, lr, accuracy)
  with axes, tick labels and a legend.
* :func:`save_confusion_png`: a confusion matrix as a coloured grid with class names.
* :func:`save_heatmap_grid_png`: a grid of attention / CAM maps, optionally blended over video frames.

Every writer creates the parent directory and returns the path it wrote.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Series = dict[str, Sequence[tuple[float, float]]]

# Tableau-10 colours: distinguishable and readable for colour-blind viewers.
LINE_COLOURS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]
# Anchor colours of the viridis colormap, interpolated linearly between them.
VIRIDIS_ANCHORS = np.array([
    (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
    (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
], dtype=np.float64)


def _font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled scalable font, so figures look the same on every machine."""
    return ImageFont.load_default(size=size)


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _format_tick(value: float, step: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.1e}"
    decimals = max(0, -int(math.floor(math.log10(step)))) if step > 0 else 0
    return f"{value:.{min(decimals, 6)}f}"


def nice_ticks(low: float, high: float, target: int = 6) -> list[float]:
    """Round tick positions (1, 2, 2.5, 5 x 10^k steps) covering ``[low, high]``."""
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError(f"tick range must be finite, got [{low}, {high}]")
    if high <= low:  # a constant series: centre it in a small band
        half_band = abs(low) * 0.1 if low != 0 else 1.0
        low, high = low - half_band, high + half_band
    raw_step = (high - low) / max(target - 1, 1)
    power = 10 ** math.floor(math.log10(raw_step))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw_step)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-6:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to viridis RGB uint8 (shape ``values.shape + (3,)``)."""
    scaled = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * (len(VIRIDIS_ANCHORS) - 1)
    lower = np.floor(scaled).astype(np.int64).clip(0, len(VIRIDIS_ANCHORS) - 2)
    weight = (scaled - lower)[..., None]
    rgb = VIRIDIS_ANCHORS[lower] * (1 - weight) + VIRIDIS_ANCHORS[lower + 1] * weight
    return rgb.round().astype(np.uint8)


def _draw_panel(image: Image.Image, box: tuple[int, int, int, int], series: Series, title: str,
                xlabel: str, ylabel: str, log_y: bool) -> None:
    """Draw one line plot (axes, ticks, grid, legend) inside ``box`` = (left, top, right, bottom)."""
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font = _font(18), _font(15), _font(13)
    left, top, right, bottom = box
    points = {name: [(float(x), float(y)) for x, y in pts if math.isfinite(float(y))]
              for name, pts in series.items()}
    if log_y:
        points = {name: [(x, math.log10(y)) for x, y in pts if y > 0] for name, pts in points.items()}
    all_points = [p for pts in points.values() for p in pts]
    xs = [p[0] for p in all_points] or [0.0, 1.0]
    ys = [p[1] for p in all_points] or [0.0, 1.0]
    x_ticks, y_ticks = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    y_labels = [f"{10 ** v:.2g}" if log_y else _format_tick(v, y_step) for v in y_ticks]
    y_label_width = max(_text_size(draw, s, tick_font)[0] for s in y_labels)

    # Plot area, leaving room for title, y tick labels + y axis label, x tick labels + x axis label.
    plot_left = left + y_label_width + 40
    plot_top = top + 36
    plot_right = right - 20
    plot_bottom = bottom - 52
    x_low, x_high = x_ticks[0], x_ticks[-1]
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        px = plot_left + (x - x_low) / (x_high - x_low) * (plot_right - plot_left)
        py = plot_bottom - (y - y_low) / (y_high - y_low) * (plot_bottom - plot_top)
        return px, py

    title_width, _ = _text_size(draw, title, title_font)
    draw.text(((left + right - title_width) / 2, top + 6), title, fill="black", font=title_font)
    for value, text in zip(y_ticks, y_labels):
        _, py = to_pixel(x_low, value)
        draw.line([(plot_left, py), (plot_right, py)], fill=(225, 225, 225))
        width, height = _text_size(draw, text, tick_font)
        draw.text((plot_left - 6 - width, py - height / 2 - 2), text, fill="black", font=tick_font)
    for value in x_ticks:
        px, _ = to_pixel(value, y_low)
        draw.line([(px, plot_top), (px, plot_bottom)], fill=(225, 225, 225))
        text = _format_tick(value, x_step)
        width, _ = _text_size(draw, text, tick_font)
        draw.text((px - width / 2, plot_bottom + 6), text, fill="black", font=tick_font)
    draw.rectangle([plot_left, plot_top, plot_right, plot_bottom], outline="black", width=1)
    width, _ = _text_size(draw, xlabel, label_font)
    draw.text(((plot_left + plot_right - width) / 2, bottom - 26), xlabel, fill="black", font=label_font)
    if ylabel:
        text = f"{ylabel} (log)" if log_y else ylabel
        width, height = _text_size(draw, text, label_font)
        rotated = Image.new("RGBA", (width + 4, height + 8), (255, 255, 255, 0))
        ImageDraw.Draw(rotated).text((2, 0), text, fill="black", font=label_font)
        rotated = rotated.rotate(90, expand=True)
        image.paste(rotated, (left + 4, int((plot_top + plot_bottom - rotated.height) / 2)), rotated)

    legend_entries = []
    for index, (name, pts) in enumerate(points.items()):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        pixels = [to_pixel(x, y) for x, y in sorted(pts)]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2, joint="curve")
        if len(pixels) <= 30:
            for px, py in pixels:
                draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        legend_entries.append((name, colour))
    if legend_entries:
        line_height = 20
        legend_width = max(_text_size(draw, name, label_font)[0] for name, _ in legend_entries) + 40
        legend_left = plot_right - legend_width - 8
        legend_top = plot_top + 8
        draw.rectangle([legend_left, legend_top, plot_right - 8, legend_top + line_height * len(legend_entries) + 6],
                       fill="white", outline=(160, 160, 160))
        for row, (name, colour) in enumerate(legend_entries):
            y = legend_top + 4 + row * line_height
            draw.line([(legend_left + 6, y + 9), (legend_left + 28, y + 9)], fill=colour, width=3)
            draw.text((legend_left + 34, y), name, fill="black", font=label_font)


def save_curve_panels_png(panels: dict[str, Series], path: str | Path, title: str = "",
                          xlabel: str = "step", log_y: Sequence[str] = (), columns: int = 2) -> Path:
    """Several line plots side by side, one per panel name (e.g. ``{"loss": {...}, "top-1 (%)": {...}}``).

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
    panel_width, panel_height = 640, 400
    columns = max(1, min(columns, len(panels)))
    rows = math.ceil(len(panels) / columns)
    header = 40 if title else 0
    image = Image.new("RGB", (panel_width * columns, panel_height * rows + header), "white")
    if title:
        draw = ImageDraw.Draw(image)
        font = _font(20)
        width, _ = _text_size(draw, title, font)
        draw.text(((image.width - width) / 2, 10), title, fill="black", font=font)
    for index, (name, series) in enumerate(panels.items()):
        row, column = divmod(index, columns)
        box = (column * panel_width, header + row * panel_height,
               (column + 1) * panel_width, header + (row + 1) * panel_height)
        _draw_panel(image, box, series, name, xlabel, name, name in log_y)
    return _save(image, path)


def save_curves_png(series: Series, path: str | Path, title: str = "", xlabel: str = "step",
                    ylabel: str = "", log_y: bool = False) -> Path:
    """One line plot of several named series, each a list of ``(x, y)`` points, with a legend."""
    image = Image.new("RGB", (800, 500), "white")
    _draw_panel(image, (0, 0, 800, 500), series, title, xlabel, ylabel, log_y)
    return _save(image, path)


def save_confusion_png(matrix: np.ndarray, class_names: Sequence[str] | None, path: str | Path,
                       title: str = "confusion matrix", normalize: bool = True) -> Path:
    """A confusion matrix (rows = true class, columns = predicted class) as a coloured grid.

    With ``normalize`` each row is divided by its count, so colours show per-class recall; cells hold the
    numbers when they are large enough to be read, and class names label the axes (omitted past ~60 classes).
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
    else:
        values = matrix / max(matrix.max(), 1e-12)
    cell = int(np.clip(900 // num_classes, 4, 48))
    show_names = num_classes <= 60
    label_font, cell_font, title_font = _font(max(9, min(14, cell - 4))), _font(max(8, min(12, cell // 3))), _font(18)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    names = [n if len(n) <= 24 else n[:23] + "…" for n in names]
    name_width = max(_text_size(probe, n, label_font)[0] for n in names) + 10 if show_names else 10
    margin_left, margin_top = name_width + 30, name_width + 60
    grid = num_classes * cell
    image = Image.new("RGB", (margin_left + grid + 90, margin_top + grid + 20), "white")
    draw = ImageDraw.Draw(image)
    width, _ = _text_size(draw, title, title_font)
    draw.text(((image.width - width) / 2, 6), title, fill="black", font=title_font)
    colours = colormap(values)
    cells = Image.fromarray(np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1))
    image.paste(cells, (margin_left, margin_top))
    if cell >= 28:
        for row in range(num_classes):
            for column in range(num_classes):
                text = f"{values[row, column]:.2f}" if normalize else f"{int(matrix[row, column])}"
                text_w, text_h = _text_size(draw, text, cell_font)
                fill = "black" if values[row, column] > 0.6 else "white"
                draw.text((margin_left + column * cell + (cell - text_w) / 2,
                           margin_top + row * cell + (cell - text_h) / 2 - 2), text, fill=fill, font=cell_font)
    if show_names:
        for index, name in enumerate(names):
            text_w, text_h = _text_size(draw, name, label_font)
            draw.text((margin_left - 6 - text_w, margin_top + index * cell + (cell - text_h) / 2 - 2), name,
                      fill="black", font=label_font)
            label = Image.new("RGBA", (text_w + 4, text_h + 6), (255, 255, 255, 0))
            ImageDraw.Draw(label).text((2, 0), name, fill="black", font=label_font)
            label = label.rotate(90, expand=True)
            image.paste(label, (margin_left + index * cell + (cell - label.width) // 2,
                                margin_top - 6 - label.height), label)
    axis_font = _font(14)
    draw.text((margin_left, margin_top - name_width - 30 if show_names else margin_top - 24), "predicted",
              fill="black", font=axis_font)
    true_label = Image.new("RGBA", (60, 20), (255, 255, 255, 0))
    ImageDraw.Draw(true_label).text((2, 0), "true", fill="black", font=axis_font)
    true_label = true_label.rotate(90, expand=True)
    image.paste(true_label, (4, margin_top), true_label)
    _draw_colour_bar(image, (margin_left + grid + 20, margin_top, margin_left + grid + 36, margin_top + min(grid, 300)),
                     0.0, 1.0 if normalize else float(matrix.max()))
    return _save(image, path)


def _draw_colour_bar(image: Image.Image, box: tuple[int, int, int, int], low: float, high: float) -> None:
    left, top, right, bottom = box
    ramp = colormap(np.linspace(1.0, 0.0, bottom - top))[:, None, :].repeat(right - left, axis=1)
    image.paste(Image.fromarray(ramp), (left, top))
    draw = ImageDraw.Draw(image)
    font = _font(12)
    draw.rectangle(box, outline="black")
    draw.text((right + 4, top - 6), f"{high:g}", fill="black", font=font)
    draw.text((right + 4, bottom - 8), f"{low:g}", fill="black", font=font)


def save_heatmap_grid_png(maps: np.ndarray | Sequence[Sequence[np.ndarray]], path: str | Path,
                          titles: Sequence[str] | None = None, row_titles: Sequence[str] | None = None,
                          background_frames: np.ndarray | None = None, cell_size: int = 160,
                          alpha: float = 0.5, title: str = "") -> Path:
    """A grid of heat maps (attention maps, CAMs), each min-max normalised and drawn with viridis.

    Args:
        maps: ``[rows, cols, H, W]`` array, or a list of rows of 2-D arrays (sizes may differ).
        path: output PNG path.
        titles: one per column (e.g. frame indices), drawn above the first row.
        row_titles: one per row (e.g. layer or head names), drawn left of each row.
        background_frames: uint8 RGB frames to blend under the maps, ``[cols, h, w, 3]`` (shared by every row)
            or ``[rows, cols, h, w, 3]``; maps are resized to the frame size.
        cell_size: side of each cell in pixels.
        alpha: heat-map opacity over the background frame.
        title: figure title.
    """
    rows_of_maps = [[np.asarray(m, dtype=np.float64) for m in row] for row in maps]
    if not rows_of_maps or not rows_of_maps[0]:
        raise ValueError("save_heatmap_grid_png needs at least one map")
    num_rows, num_cols = len(rows_of_maps), max(len(row) for row in rows_of_maps)
    frames = None
    if background_frames is not None:
        frames = np.asarray(background_frames)
        if frames.ndim == 4:
            frames = np.broadcast_to(frames[None], (num_rows,) + frames.shape)  # [rows, cols, h, w, 3]
        if frames.ndim != 5 or frames.shape[:2] != (num_rows, num_cols) or frames.shape[-1] != 3:
            raise ValueError(f"background_frames must be [cols,h,w,3] or [rows,cols,h,w,3] matching the "
                             f"{num_rows}x{num_cols} maps, got shape {np.asarray(background_frames).shape}")
    font, title_font = _font(14), _font(18)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_title_width = max((_text_size(probe, t, font)[0] for t in row_titles), default=0) + 12 if row_titles else 0
    header = (30 if title else 0) + (24 if titles else 0)
    gap = 4
    image = Image.new("RGB", (row_title_width + num_cols * (cell_size + gap) + gap,
                              header + num_rows * (cell_size + gap) + gap), "white")
    draw = ImageDraw.Draw(image)
    if title:
        width, _ = _text_size(draw, title, title_font)
        draw.text(((image.width - width) / 2, 4), title, fill="black", font=title_font)
    for row_index, row in enumerate(rows_of_maps):
        top = header + gap + row_index * (cell_size + gap)
        if row_titles:
            _, height = _text_size(draw, row_titles[row_index], font)
            draw.text((4, top + (cell_size - height) / 2), row_titles[row_index], fill="black", font=font)
        for column_index, heat in enumerate(row):
            if heat.ndim != 2:
                raise ValueError(f"map at row {row_index}, column {column_index} must be 2-D, got {heat.shape}")
            span = heat.max() - heat.min()
            normalised = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
            tile = Image.fromarray(colormap(normalised)).resize((cell_size, cell_size), Image.BILINEAR)
            if frames is not None:
                frame = Image.fromarray(np.ascontiguousarray(frames[row_index, column_index]).astype(np.uint8))
                tile = Image.blend(frame.resize((cell_size, cell_size), Image.BILINEAR), tile, alpha)
            left = row_title_width + gap + column_index * (cell_size + gap)
            image.paste(tile, (left, top))
    if titles:
        for column_index, text in enumerate(titles[:num_cols]):
            width, _ = _text_size(draw, text, font)
            left = row_title_width + gap + column_index * (cell_size + gap)
            draw.text((left + (cell_size - width) / 2, header - 22), text, fill="black", font=font)
    return _save(image, path)


def _save(image: Image.Image, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
