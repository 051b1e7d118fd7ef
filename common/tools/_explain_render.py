"""Pictures of explain and demo: colour maps, heat-map overlays, per-frame weight bars, captioned frames, the PNG
grid and the H.264 mp4.

Two kinds of explanation are drawn: maps ``[T, H, W]`` in [0, 1] (blended over each frame in a colour map) and
per-frame weights ``[T]`` (a temporal attention): a bar coloured by the frame's weight, min-max normalised over the
clip, stacked above the frame. With ``bar_ends="exclude"`` the first and last weights are left out of the min-max
(they take the mean of all weights for it) and are drawn with their raw values: the rule for weights from a
zero-padded temporal convolution, whose boundary frames are outliers (ST-ABN's figures).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from common.data.video_writer import write_h264
from common.plots import colormap as viridis

BAR_HEIGHT = 25  # pixels of one weight bar (ST-ABN's figures: a 224 x 25 bar over a 224 x 224 frame)
GRID_COLUMNS = 8  # frames per grid row; longer clips wrap
GAP = 4


def _jet_table() -> np.ndarray:
    """The classic piecewise-linear JET (dark blue, blue, cyan, yellow, red, dark red) at 256 levels, uint8 RGB."""
    x = np.arange(256)[:, None] / 255.0 * 4.0
    return (np.clip(1.5 - np.abs(x - np.array([3.0, 2.0, 1.0])), 0.0, 1.0) * 255.0).round().astype(np.uint8)


JET_TABLE = _jet_table()


def jet(values: np.ndarray) -> np.ndarray:
    """JET as an 8-bit lookup: values in [0, 1] (NaN as 0) are truncated to ``floor(255 v)`` (a uint8 image, as
    OpenCV's ``applyColorMap`` is given) and coloured; uint8 RGB, shape ``values.shape + (3,)``."""
    clipped = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return JET_TABLE[(clipped * 255.0).astype(np.uint8)]


COLORMAPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"viridis": viridis, "jet": jet}


@dataclass(frozen=True)
class Style:
    """How maps and weights are drawn: the colour map, the heat map's weight in the blend (the frame gets
    ``1 - alpha``) and the bar rule for the ends of a clip (``include`` or ``exclude``, see the module)."""

    colormap: str = "viridis"
    alpha: float = 0.5
    bar_ends: str = "include"

    def colour(self, values: np.ndarray) -> np.ndarray:
        return COLORMAPS[self.colormap](values)


def overlay(frames: np.ndarray, maps: np.ndarray, alpha: float = 0.5, colormap: str = "viridis") -> np.ndarray:
    """Blend heat maps ``[T, H, W]`` (in [0, 1]) over uint8 frames ``[T, H, W, 3]``."""
    return ((1 - alpha) * frames + alpha * COLORMAPS[colormap](maps)).round().clip(0, 255).astype(np.uint8)


def bar_levels(weights: np.ndarray, ends: str = "include") -> np.ndarray:
    """Per-frame weights ``[T]`` -> bar levels ``[T]``: min-max over the clip (a constant clip gives zeros); with
    ``ends="exclude"`` the first and last weights count as the mean in the min-max and keep their raw values."""
    raw = np.asarray(weights, dtype=np.float64)
    values = raw.copy()
    exclude = ends == "exclude" and values.size > 2
    if exclude:
        values[[0, -1]] = values.mean()
    span = values.max() - values.min()
    levels = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    if exclude:
        levels[[0, -1]] = raw[[0, -1]]
    return levels


def with_bars(images: np.ndarray, weights: Sequence[np.ndarray], style: Style) -> np.ndarray:
    """``[T, H, W, 3]`` images under one ``BAR_HEIGHT`` bar per weight vector ``[T]`` (the first on top)."""
    count, _, width = images.shape[:3]
    bars = [np.broadcast_to(style.colour(bar_levels(w, style.bar_ends))[:, None, None], (count, BAR_HEIGHT, width, 3))
            for w in weights]  # each [T, 25, W, 3]
    return np.concatenate([*bars, images], axis=1)  # [T, 25 * bars + H, W, 3]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def caption(frame: np.ndarray, lines: Sequence[str], scale: int = 1) -> np.ndarray:
    """``frame`` (uint8 ``[H, W, 3]``) with ``lines`` drawn top-left on a dark band (Pillow's default font)."""
    image = Image.fromarray(frame)
    height = 12 * scale
    band = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(band).rectangle((0, 0, image.width, height * len(lines) + 4), fill=(0, 0, 0, 150))
    image = Image.alpha_composite(image.convert("RGBA"), band).convert("RGB")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((3, 2 + row * height), line, fill=(255, 255, 255), font=_font(height - 2))
    return np.asarray(image)


def even(video: np.ndarray) -> np.ndarray:
    """Crop ``[T, H, W, 3]`` to even sides (H.264 4:2:0)."""
    return video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2]


def upscale(video: np.ndarray, min_side: int) -> np.ndarray:
    """Nearest-neighbour enlarge ``[T, H, W, 3]`` by an integer factor so the short side reaches ``min_side``."""
    factor = max(1, -(-min_side // min(video.shape[1:3])))
    return video.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else video


def grid(rows: dict[str, np.ndarray], title: str, columns: int = GRID_COLUMNS) -> np.ndarray:
    """One labelled row of images per entry of ``rows`` (``{name: [T, h, w, 3]}``, same sizes), a column per
    frame (``frame t`` above), ``columns`` frames per band (longer clips continue in a band below), ``title`` on
    top, on white: uint8 ``[H, W, 3]``."""
    names = list(rows)
    count, height, width = rows[names[0]].shape[:3]
    font = _font(12)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_width = 8 + max(int(probe.textlength(name, font=font)) for name in names)
    per_band = min(columns, count)
    bands = -(-count // per_band)
    band_height = 16 + len(names) * (height + GAP)
    canvas = Image.new("RGB", (label_width + per_band * (width + GAP), 20 + bands * band_height),
                       (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), title, fill=(0, 0, 0), font=font)
    for t in range(count):
        band, column = divmod(t, per_band)
        left, top = label_width + column * (width + GAP), 20 + band * band_height
        draw.text((left, top + 1), f"frame {t}", fill=(0, 0, 0), font=font)
        for row, name in enumerate(names):
            canvas.paste(Image.fromarray(np.ascontiguousarray(rows[name][t])), (left, top + 16 + row * (height + GAP)))
    for band in range(bands):
        for row, name in enumerate(names):
            middle = 20 + band * band_height + 16 + row * (height + GAP) + height // 2
            draw.text((4, middle - 6), name, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def _folder(name: str) -> str:
    return name.replace("/", "_")


def write_explanation(frames: np.ndarray, maps: dict[str, np.ndarray], out_dir: str | Path, title: str,
                      captions: Sequence[str], fps: float = 4.0, style: Style = Style()) -> dict[str, Path]:
    """Draw the explanation of one clip, uint8 ``frames`` ``[T, H, W, 3]``, into ``out_dir``.

    ``maps`` holds maps ``[T, H, W]`` in [0, 1] and per-frame weights ``[T]``. Written: ``input/frame_XX.png``
    (the frames), ``<map>/frame_XX.png`` (each frame with the map blended over it), ``<weights>/frame_XX.png``
    (each frame under its bar), ``grid.png`` (a row for the frames and one per map, every image under the bars of
    all weights), ``overlay.mp4`` (the same images side by side, captioned) and ``maps.npz`` (``maps``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spatial = {name: value for name, value in maps.items() if value.ndim == 3}
    weights = {name: value for name, value in maps.items() if value.ndim == 1}
    singles = {"input": frames,
               **{name: overlay(frames, value, style.alpha, style.colormap) for name, value in spatial.items()},
               **{name: with_bars(frames, [value], style) for name, value in weights.items()}}
    for name, images in singles.items():
        folder = out / _folder(name)
        folder.mkdir(exist_ok=True)
        for t, image in enumerate(images):
            Image.fromarray(image).save(folder / f"frame_{t:02d}.png")
    panels = {name: with_bars(upscale(singles[name], 160), list(weights.values()), style)
              for name in ["input", *spatial]}  # each [T, bars * 25 + H', W', 3]
    bars = f"; bars on top: {', '.join(weights)}" if weights else ""
    Image.fromarray(grid(panels, title + bars)).save(out / "grid.png")
    video = np.concatenate(list(panels.values()), axis=2)  # [T, H', W' * (maps + 1), 3]
    video = np.stack([caption(frame, [*captions, f"frame {t}"]) for t, frame in enumerate(video)])
    write_h264(out / "overlay.mp4", even(video), fps=max(1, round(fps)), gop=len(video))
    np.savez(out / "maps.npz", **maps)
    return {"grid": out / "grid.png", "mp4": out / "overlay.mp4", "frames": out / _folder(next(iter(maps)))}
