"""Where and when MGMA attends: the attention of one MGMA unit for one clip, as a PNG grid and an mp4 overlay.

For the chosen unit (default: the first MGMA unit), each attention branch's map (T, S or U, and the combined ``A``
the unit multiplies its output by ``1 + A``) is averaged over channels, giving one map per time step of the unit.
``attention.png`` has one row per map and one column per time step, over the clip frame at the start of that
step; ``attention.mp4`` shows every clip frame with the maps of its time step overlaid (one panel per map, colours
normalised over the whole clip); ``attention.npz`` holds the channel-averaged maps.

    python -m projects.mgma.attention --checkpoint runs/r3d34_tsa/checkpoints/last.pth --video v_YoYo_g01_c01.avi \\
        --unit layer3.1 --output-dir runs/r3d34_tsa/attention

The clip is the test view ``--clip-index`` of ``--num-clips`` (short side ``--scale-size``, centre
``--test-crop-size`` crop), with the checkpoint's training configuration, as test.py reads it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/mgma && python attention.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
import torch.nn.functional as F

from common.data.synthetic import write_h264
from common.data.transforms import Compose, ShortSideResize, TestCrop
from common.data.video_reader import VideoReader
from common.engine.app import parse_config
from common.engine.checkpoint import load_state_dict_verbose
from common.plots import colormap, save_heatmap_grid_png
from projects.mgma.data import temporal_sampler
from projects.mgma.model import attention_maps
from projects.mgma.recipe import RECIPE


def _extra_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("attention maps")
    group.add_argument("--video", default=None, help="the video file to explain (required)")
    group.add_argument("--unit", default=None, help="MGMA unit, e.g. layer2.1 or stage0.1 (default: the first)")
    group.add_argument("--clip-index", type=int, default=0, help="which of the --num-clips test clips")
    group.add_argument("--fps", type=int, default=4, help="frame rate of the overlay video")


def read_clip(cfg: argparse.Namespace) -> torch.Tensor:
    """The test view of ``cfg.video``: uint8 ``[3, T, H, W]``."""
    reader = VideoReader(cfg.video)
    try:
        sampler = temporal_sampler(cfg, cfg.num_clips)
        indices = sampler.test_indices(reader.num_frames, cfg.clip_index, reader.fps)
        frames = reader.read(indices)  # uint8 [T, H, W, 3]
    finally:
        reader.close()
    clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # [T, 3, H, W]
    transform = Compose([ShortSideResize(cfg.scale_size), TestCrop(cfg.test_crop_size)])
    clip = transform({"clip": clip}, torch.Generator().manual_seed(0))["clip"]
    return clip.permute(1, 0, 2, 3).contiguous()  # [3, T, H, W]


def unit_maps(model: torch.nn.Module, inputs: torch.Tensor, unit: str | None) -> tuple[str, dict[str, np.ndarray]]:
    """``(unit name, {map name: [T', H', W'] channel mean})`` for ``inputs`` ``[1, 3, T, H, W]``."""
    with torch.no_grad():
        maps = attention_maps(model.eval(), inputs)
    if not maps:
        raise SystemExit("this model has no MGMA unit (a baseline variant)")
    unit = unit or next(iter(maps))
    if unit not in maps:
        raise SystemExit(f"--unit {unit!r} is not an MGMA unit of this model; choose from {', '.join(maps)}")
    return unit, {name: value[0].float().mean(0).cpu().numpy() for name, value in maps[unit].items()}


def write_outputs(clip: torch.Tensor, unit: str, maps: dict[str, np.ndarray], out_dir: Path, fps: int) -> list[Path]:
    """The PNG grid, the mp4 overlay and the npz of ``maps`` over ``clip`` (uint8 ``[3, T, H, W]``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = clip.permute(1, 2, 3, 0).numpy()  # uint8 [T, H, W, 3]
    names = list(maps)
    steps = next(iter(maps.values())).shape[0]
    stride = frames.shape[0] // steps  # clip frames per time step of the unit
    grid = save_heatmap_grid_png(
        [list(maps[name]) for name in names], out_dir / "attention.png",
        titles=[f"frames {t * stride}-{t * stride + stride - 1}" for t in range(steps)], row_titles=names,
        background_frames=frames[::stride][:steps], title=f"MGMA attention of {unit} (channel mean)")
    panels = []
    for name in names:
        volume = torch.from_numpy(maps[name]).repeat_interleave(stride, dim=0)  # [T, h, w]
        volume = F.interpolate(volume[:, None], size=frames.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
        low, high = float(volume.min()), float(volume.max())
        heat = colormap(((volume - low) / max(high - low, 1e-12)).numpy())  # [T, H, W, 3]
        panels.append((0.5 * frames + 0.5 * heat).round().astype(np.uint8))
    video = np.concatenate(panels, axis=2)  # [T, H, W * maps, 3]
    write_h264(out_dir / "attention.mp4", video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2], fps, gop=8)
    np.savez(out_dir / "attention.npz", **maps)
    return [grid, out_dir / "attention.mp4", out_dir / "attention.npz"]


def main(argv: Sequence[str] | None = None) -> list[Path]:
    cfg, weights = parse_config(RECIPE, argv, "test", extra_args=_extra_args, prog="python -m projects.mgma.attention")
    if cfg.video is None:
        raise SystemExit("--video is required")
    model = RECIPE.build_model(cfg)
    load_state_dict_verbose(model, weights, strict=True, source=cfg.checkpoint)
    clip = read_clip(cfg)
    inputs, _ = RECIPE.preprocess(cfg)(clip[None], None, False)
    unit, maps = unit_maps(model, inputs, cfg.unit)
    written = write_outputs(clip, unit, maps, Path(cfg.output_dir), cfg.fps)
    print(f"{cfg.variant} {unit}: wrote {', '.join(str(path) for path in written)}")
    return written


if __name__ == "__main__":
    main()
