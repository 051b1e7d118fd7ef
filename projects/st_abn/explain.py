"""Visual explanation with ST-ABN's own attention maps: where (spatial map) and when (temporal weights) the model
looks, for videos or frame folders and a checkpoint; in batches, on CPU or GPU, and under ``torchrun`` (the videos
are shared out between processes).

    python -m projects.st_abn.explain --checkpoint runs/sthv1_st_abn_32/checkpoints/best.pth \
        --data-root /data/sthv1/frames --video 100218 100219 --out explain/
    python -m projects.st_abn.explain --preset sthv1_st_abn_32 --checkpoint epoch_150.pth \
        --data-root /data/sthv1/frames --val-list val_videofolder.txt --limit 50 --out explain/

The flags are test.py's (``--preset``, ``--config``, the checkpoint's stored configuration: sampling, frame names,
sizes) plus the ones below; ``--test-batch-size`` videos go through the model at once. Every video is read as the
reference's test view (``val`` sampling, short side to ``--scale-size``, centre crop ``--crop-size``), and gets a
folder ``OUT/<video id>/`` with:

* ``raw/NNN.png``: the frames the model saw;
* ``spatial/NNN.png``: the spatial attention map ``A_s`` of each frame (the raw sigmoid values, not rescaled, resized
  bilinearly to the frame, JET colours) blended ``0.6 * frame + 0.4 * map``, as the reference's ``-s`` option;
* ``temporal/NNN.png``: the frame under a 25-pixel bar coloured by its temporal weight ``A_t``, min-max normalised
  over the clip; ``--reference-boundary`` applies the reference's rule (first and last weights replaced by the mean
  for the normalisation, then put back raw: they come from a zero-padded conv);
* ``grid.png``: all frames, each the temporal bar over the spatial overlay, 8 per row; ``attention.mp4`` the same as
  a video; ``attention.npz``: ``spatial`` ``[T, h, w]``, ``temporal`` ``[T]``, ``logits`` ``[K]``, ``frames``.

Differences from the reference's visualisation: one folder per video instead of a global frame counter, no source
edit to get the maps (``forward_with_attention``), batches, CPU and several processes; JET is the classic
piecewise-linear colormap (the reference calls OpenCV's, which it approximates).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # `cd projects/st_abn && python explain.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common.data.datasets import video_ids
from common.data.frame_folder import FrameFolderReader
from common.data.video_writer import write_h264
from common.data.transforms import TestCrop
from common.data.video_reader import VideoReader
from common.distributed import init_distributed
from common.engine.app import parse_config
from common.engine.checkpoint import load_state_dict_verbose
from projects.st_abn.model import VARIANTS
from projects.st_abn.recipe import RECIPE
from projects.st_abn.transforms import MMActionV1Rescale, STABNSegmentSampler

BAR_HEIGHT = 25
FRAMES_PER_ROW = 8


def jet(values: np.ndarray) -> np.ndarray:
    """The JET colormap: values in [0, 1] -> uint8 RGB, shape ``values.shape + (3,)``."""
    x = np.clip(values, 0.0, 1.0)[..., None] * 4.0
    rgb = np.clip(1.5 - np.abs(x - np.array([3.0, 2.0, 1.0])), 0.0, 1.0)
    return (rgb * 255.0).round().astype(np.uint8)


def normalise_temporal(weights: np.ndarray, reference_boundary: bool = False) -> np.ndarray:
    """Min-max normalised temporal weights ``[T]``; with ``reference_boundary`` the first and last weights are set
    to the mean for the normalisation and get their raw values back afterwards, as the reference's visualisation."""
    values = np.asarray(weights, dtype=np.float64).copy()
    if reference_boundary and values.size > 2:
        values[[0, -1]] = values.mean()
    span = values.max() - values.min()
    normalised = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    if reference_boundary and values.size > 2:
        normalised[[0, -1]] = np.asarray(weights, dtype=np.float64)[[0, -1]]
    return normalised


def render(frames: np.ndarray, spatial: np.ndarray, temporal: np.ndarray,
           reference_boundary: bool = False) -> dict[str, np.ndarray]:
    """``frames`` uint8 ``[T, H, W, 3]``, ``spatial`` ``[T, h, w]`` in (0, 1), ``temporal`` ``[T]`` -> uint8 images:
    ``spatial`` ``[T, H, W, 3]`` (overlays), ``temporal`` ``[T, 25 + H, W, 3]`` (bar over the frame), ``combined``
    ``[T, 25 + H, W, 3]`` (bar over the overlay)."""
    height, width = frames.shape[1:3]
    maps = F.interpolate(torch.as_tensor(spatial, dtype=torch.float32)[:, None], size=(height, width),
                         mode="bilinear", align_corners=False)[:, 0].numpy()  # [T, H, W]
    heat = jet(np.floor(np.clip(maps, 0, 1) * 255) / 255)  # the reference: x255 to uint8, then the colormap
    overlays = (0.6 * frames + 0.4 * heat).round().clip(0, 255).astype(np.uint8)  # [T, H, W, 3]
    levels = normalise_temporal(temporal, reference_boundary)  # [T]
    bars = np.broadcast_to(jet(levels)[:, None, None, :], (len(levels), BAR_HEIGHT, width, 3))  # [T, 25, W, 3]
    return {"spatial": overlays, "temporal": np.concatenate([bars, frames], axis=1),
            "combined": np.concatenate([bars, overlays], axis=1)}


def grid(images: np.ndarray, per_row: int = FRAMES_PER_ROW, gap: int = 4) -> np.ndarray:
    """Tile ``[T, H, W, 3]`` images, ``per_row`` per row, on a white background."""
    count, height, width = images.shape[:3]
    rows = -(-count // per_row)
    canvas = np.full((rows * (height + gap) - gap, min(count, per_row) * (width + gap) - gap, 3), 255, np.uint8)
    for index, image in enumerate(images):
        top, left = (index // per_row) * (height + gap), (index % per_row) * (width + gap)
        canvas[top:top + height, left:left + width] = image
    return canvas


def write_explanation(out_dir: Path, frames: np.ndarray, spatial: np.ndarray, temporal: np.ndarray,
                      logits: np.ndarray, reference_boundary: bool = False, fps: int = 4) -> Path:
    """Write the PNGs, the grid, the mp4 and the raw maps of one video into ``out_dir``."""
    images = render(frames, spatial, temporal, reference_boundary)
    for name, stack in (("raw", frames), ("spatial", images["spatial"]), ("temporal", images["temporal"])):
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        for t, image in enumerate(stack):
            Image.fromarray(image).save(out_dir / name / f"{t:03d}.png")
    Image.fromarray(grid(images["combined"])).save(out_dir / "grid.png")
    video = images["combined"]
    even = np.pad(video, ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2), (0, 0)))  # H.264 4:2:0
    write_h264(out_dir / "attention.mp4", even, fps=fps, gop=len(even))
    np.savez(out_dir / "attention.npz", spatial=spatial, temporal=temporal, logits=logits, frames=frames)
    return out_dir


# --------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------

def read_view(path: Path, sampler: STABNSegmentSampler, scale_size: int, crop_size: int,
              frame_template: str) -> np.ndarray:
    """The reference's test view of a frame folder or video file: uint8 ``[T, S, S, 3]``."""
    reader = FrameFolderReader(path, frame_template) if path.is_dir() else VideoReader(path)
    try:
        frames = torch.from_numpy(reader.read(sampler.test_indices(reader.num_frames, 0))).permute(0, 3, 1, 2)
    finally:
        reader.close()
    sample = MMActionV1Rescale(scale_size)({"clip": frames})  # [T, 3, H', W']
    view = TestCrop(crop_size, geometry="mmaction")(sample)["clip"]  # [T, 3, S, S]
    return view.permute(0, 2, 3, 1).numpy()  # [T, S, S, 3]


def add_explain_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("explain.py")
    group.add_argument("--video", nargs="*", default=[], help="frame folders or video files (under --data-root)")
    group.add_argument("--limit", type=int, default=None,
                       help="without --video: the first N videos of --val-list (default: all)")
    group.add_argument("--out", default="explain", help="output folder (one sub-folder per video)")
    group.add_argument("--reference-boundary", action=argparse.BooleanOptionalAction, default=False,
                       help="the reference's normalisation of the temporal bar (boundary frames kept raw)")
    group.add_argument("--temporal-attention", type=float, nargs="+", default=None,
                       help="T weights that replace the computed temporal attention (attention editing)")
    group.add_argument("--fps", type=int, default=4, help="frame rate of attention.mp4")


def video_paths(cfg: argparse.Namespace) -> list[tuple[str, Path]]:
    """``(id, path)`` of every video to explain: ``--video``, else the first ``--limit`` of ``--val-list``."""
    root = Path(cfg.data_root)
    if cfg.video:
        return [(Path(name).name if Path(name).is_absolute() else name,
                 Path(name) if Path(name).is_absolute() else root / name) for name in cfg.video]
    records = RECIPE.dataset(cfg, "val").records[:cfg.limit]
    return [(video_id, Path(record.path)) for video_id, record in zip(video_ids(records), records)]


def main(argv: Sequence[str] | None = None) -> list[Path]:
    cfg, weights = parse_config(RECIPE, argv, "test", extra_args=add_explain_args)
    if not VARIANTS[cfg.variant].arch["attention"]:
        raise SystemExit(f"{cfg.variant} has no attention branch to explain")
    info = init_distributed(cfg.device)
    model = RECIPE.build_model(cfg)
    load_state_dict_verbose(model, weights, strict=True, log=print if info.is_main else (lambda message: None))
    model.to(info.device).eval()
    sampler = RECIPE.sampler(cfg)
    preprocess = RECIPE.preprocess(cfg)
    edited = None if cfg.temporal_attention is None else torch.tensor(cfg.temporal_attention)
    mine = video_paths(cfg)[info.rank::info.world_size]
    written = []
    for start in range(0, len(mine), cfg.test_batch_size):
        batch = mine[start:start + cfg.test_batch_size]
        views = np.stack([read_view(path, sampler, cfg.scale_size, cfg.crop_size, cfg.frame_template)
                          for _, path in batch])  # [B, T, S, S, 3]
        clips = torch.from_numpy(views).permute(0, 4, 1, 2, 3).to(info.device)  # [B, 3, T, S, S]
        with torch.no_grad():
            out = model.forward_with_attention(preprocess(clips, None, False)[0], edited)
        for index, (video_id, _) in enumerate(batch):
            folder = write_explanation(
                Path(cfg.out) / video_id, views[index], out["spatial_attention"][index, 0].cpu().numpy(),
                out["temporal_attention"][index, 0, :, 0, 0].cpu().numpy(), out["logits"][index].cpu().numpy(),
                cfg.reference_boundary, cfg.fps)
            top5 = out["logits"][index].topk(min(5, model.num_classes)).indices.tolist()
            (folder / "prediction.json").write_text(json.dumps({"video": video_id, "top5": top5}) + "\n")
            written.append(folder)
    print(f"rank {info.rank}: explanations of {len(written)} videos in {cfg.out}")
    return written


if __name__ == "__main__":
    main()
