"""Pictures of explain and demo: heat-map overlays, captioned frames, the PNG grid and the H.264 mp4."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from common.data.video_writer import write_h264
from common.plots import colormap, save_heatmap_grid_png


def overlay(frames: np.ndarray, maps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend viridis heat maps ``[T, H, W]`` (in [0, 1]) over uint8 frames ``[T, H, W, 3]``."""
    return ((1 - alpha) * frames + alpha * colormap(maps)).round().astype(np.uint8)


def caption(frame: np.ndarray, lines: Sequence[str], scale: int = 1) -> np.ndarray:
    """``frame`` (uint8 ``[H, W, 3]``) with ``lines`` drawn top-left on a dark band (Pillow's default font)."""
    image = Image.fromarray(frame)
    height = 12 * scale
    font = ImageFont.load_default(size=height - 2)
    band = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(band).rectangle((0, 0, image.width, height * len(lines) + 4), fill=(0, 0, 0, 150))
    image = Image.alpha_composite(image.convert("RGBA"), band).convert("RGB")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((3, 2 + row * height), line, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def even(video: np.ndarray) -> np.ndarray:
    """Crop ``[T, H, W, 3]`` to even sides (H.264 4:2:0)."""
    return video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2]


def upscale(video: np.ndarray, min_side: int) -> np.ndarray:
    """Nearest-neighbour enlarge ``[T, H, W, 3]`` by an integer factor so the short side reaches ``min_side``."""
    factor = max(1, -(-min_side // min(video.shape[1:3])))
    return video.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else video


def write_explanation(frames: np.ndarray, maps: dict[str, np.ndarray], out_dir: str | Path, title: str,
                      captions: Sequence[str], fps: float = 4.0) -> dict[str, Path]:
    """Per-frame overlay PNGs (``<map>/frame_XX.png``), ``grid.png`` (one row per map over the clip),
    ``overlay.mp4`` (the maps side by side, captioned) and ``maps.npz`` (the maps), for uint8 ``frames``
    ``[T, H, W, 3]``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(maps)
    written = {"grid": save_heatmap_grid_png([list(maps[name]) for name in names], out / "grid.png",
                                             titles=[f"frame {t}" for t in range(len(frames))], row_titles=names,
                                             background_frames=frames, title=title)}
    panels = []
    for name in names:
        blended = overlay(frames, maps[name])
        folder = out / name.replace("/", "_")
        folder.mkdir(exist_ok=True)
        for t, frame in enumerate(blended):
            Image.fromarray(frame).save(folder / f"frame_{t:02d}.png")
        panels.append(upscale(blended, 160))
    video = np.concatenate([upscale(frames, 160), *panels], axis=2)  # [T, H, W * (maps + 1), 3]
    video = np.stack([caption(frame, [*captions, f"frame {t}"]) for t, frame in enumerate(video)])
    write_h264(out / "overlay.mp4", even(video), fps=max(1, round(fps)), gop=len(video))
    np.savez(out / "maps.npz", **maps)
    written["mp4"] = out / "overlay.mp4"
    written["frames"] = out / names[0].replace("/", "_")
    return written
