"""Trajectory attention of one query patch over every frame of a clip, as a PNG grid.

Row ``h`` shows head ``h``'s stage-1 attention of the query patch to each token frame (a softmax over that frame's
patches, i.e. where the query "is" in that frame); the last row is the mean over heads. Column titles give the
stage-2 weight of each frame (mean over heads). Frames under the maps are the second frame of each tubelet.

    python -m projects.motionformer.visualize --checkpoint k400_motionformer_224_16x4.pyth \
        --variant motionformer_224_16x4 --video clip.mp4 --query 4 7 7 --out attention.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/motionformer && python visualize.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

from common.data.device_transforms import HALF_MEAN, HALF_STD
from common.data.transforms import ShortSideResize, TestCrop
from common.data.video_reader import VideoReader
from common.engine.checkpoint import load_checkpoint, load_state_dict_verbose
from common.engine.trainer import ClipPreprocessor
from common.plots import save_heatmap_grid_png
from projects.motionformer.model import VARIANTS, Motionformer, build_model
from projects.motionformer.recipe import read_weights


def trajectory_attention_png(model: Motionformer, clip: torch.Tensor, query: tuple[int, int, int], path: str | Path,
                             block_index: int = -1, bgr: bool = False) -> Path:
    """Write the attention grid for ``clip`` (uint8 ``[3, T, H, W]``) and ``query`` = (token frame, row, col)."""
    if model.attention != "trajectory":
        raise ValueError(f"trajectory attention maps need a trajectory model, this one uses {model.attention}")
    inputs, _ = ClipPreprocessor(HALF_MEAN, HALF_STD, bgr=bgr)(clip[None], None, False)
    model.eval()
    maps = model.attention_maps(inputs, block_index)
    frames, grid_h, grid_w = maps["grid"].tolist()
    frame, row, col = query
    if not (0 <= frame < frames and 0 <= row < grid_h and 0 <= col < grid_w):
        raise ValueError(f"query {query} is outside the token grid (frames {frames}, rows {grid_h}, cols {grid_w})")
    token = (frame * grid_h + row) * grid_w + col
    spatial = maps["spatial"][0, :, token].reshape(-1, frames, grid_h, grid_w)  # [h, F, gh, gw]
    temporal = maps["temporal"][0, :, token].mean(0)  # [F]
    rows = torch.cat([spatial, spatial.mean(0, keepdim=True)]).cpu().numpy()  # [h + 1, F, gh, gw]
    step = model.tubelet_size
    background = clip[:, step - 1::step].permute(1, 2, 3, 0).cpu().numpy().astype(np.uint8)  # [F, H, W, 3]
    return save_heatmap_grid_png(
        rows, path, titles=[f"t'={t} w={w:.2f}" for t, w in enumerate(temporal.tolist())],
        row_titles=[f"head {h}" for h in range(spatial.shape[0])] + ["mean"], background_frames=background,
        title=f"block {block_index % model.depth}: query patch (t'={frame}, row {row}, col {col})")


def read_clip(video: str | Path, num_frames: int, stride: int, crop_size: int) -> torch.Tensor:
    """``num_frames`` frames ``stride`` apart from the start of ``video``, short side = crop, centre crop."""
    reader = VideoReader(video)
    try:
        indices = np.minimum(np.arange(num_frames) * stride, reader.num_frames - 1)
        frames = torch.from_numpy(reader.read(indices)).permute(0, 3, 1, 2)  # [T, 3, H, W]
    finally:
        reader.close()
    sample = {"clip": frames}
    for transform in (ShortSideResize(crop_size), TestCrop(crop_size, 1, 0)):
        sample = transform(sample, torch.Generator())
    return sample["clip"].permute(1, 0, 2, 3).contiguous()  # [3, T, H, W]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Trajectory attention maps of one query patch, as a PNG.")
    parser.add_argument("--checkpoint", required=True, help="main.py checkpoint or reference .pyth")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="motionformer_224_16x4")
    parser.add_argument("--num-classes", type=int, default=400)
    parser.add_argument("--video", required=True, help="video file to read the clip from")
    parser.add_argument("--num-frames", type=int, default=None, help="default: the variant's")
    parser.add_argument("--stride", type=int, default=4, help="source frames between sampled frames")
    parser.add_argument("--crop-size", type=int, default=None, help="default: the variant's")
    parser.add_argument("--query", type=int, nargs=3, default=None, metavar=("FRAME", "ROW", "COL"),
                        help="query token (token frame, row, column); default: centre of the middle frame")
    parser.add_argument("--block", type=int, default=-1, help="block index (negative counts from the end)")
    parser.add_argument("--bgr", action="store_true", help="feed BGR (EPIC models)")
    parser.add_argument("--out", default="trajectory_attention.png")
    args = parser.parse_args(argv)
    model = build_model(args.variant, args.num_classes, num_frames=args.num_frames, img_size=args.crop_size,
                        attn_backend="math")
    load_state_dict_verbose(model, read_weights(load_checkpoint(args.checkpoint), args.variant), strict=True)
    clip = read_clip(args.video, model.num_frames, args.stride, model.img_size)
    grid = model.img_size // model.patch_size
    query = tuple(args.query) if args.query else (model.num_frames // model.tubelet_size // 2, grid // 2, grid // 2)
    print(trajectory_attention_png(model, clip, query, args.out, args.block, args.bgr))


if __name__ == "__main__":
    main()
