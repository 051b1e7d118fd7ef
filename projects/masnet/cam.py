"""Grad-CAM over a clip: where in every frame the model finds evidence for a class (the reference's ``CAM.py``).

    python -m projects.masnet.cam --checkpoint runs/ssv1_8f/checkpoints/best.pth \
        --data-root /data --video somethingv1/20bn-something-something-v1/100218 --out cam/100218

Writes ``cam_frames.png`` (the sampled frames with their heat maps), ``cam_frame_XX.png`` per frame and
``cam.mp4`` (H.264, PyAV). The input clip is the test view of ``test.py --num-crops 1``: segment centres, short
side to ``--scale-size``, centre crop ``--crop-size``. ``--video`` is a frame folder or a video file. Flags and
defaults are test.py's (the checkpoint's training configuration fills them; explicit flags win).

The maps are Grad-CAM of the last ResNet stage: per frame, the channels are weighted by the spatial mean of the
class score's gradient. With MAS-Net's head (global average pool, linear, mean over frames) that gradient is the
classifier row divided by the map size and T, so this equals the reference's CAM (fc weights times features) up
to a positive factor; the reference's script does not run as shipped (it reads an attribute whose assignment is
commented out), this one does. Maps are normalised over the whole clip, as the reference does.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/masnet && python cam.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common.data.frame_folder import FrameFolderReader
from common.data.synthetic import write_h264
from common.data.video_reader import VideoReader
from common.engine.app import parse_config
from common.engine.checkpoint import load_state_dict_verbose
from common.plots import colormap, save_heatmap_grid_png
from projects.masnet.data import class_names, clip_sampler, view_transform
from projects.masnet.model import MASNet
from projects.masnet.recipe import RECIPE


def grad_cam(model: MASNet, clip: torch.Tensor, class_index: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM of one normalised clip ``[1, 3, T, H, W]``: returns (maps ``[T, H, W]`` in [0, 1], logits ``[K]``).

    ``class_index`` None explains the predicted class.
    """
    model.eval()
    with torch.no_grad():
        features = model.forward_features(clip)  # [T, C, h, w]
    features.requires_grad_(True)
    logits = model.head(features).mean(1)[0]  # [K]
    target = int(logits.argmax()) if class_index is None else class_index
    (gradients,) = torch.autograd.grad(logits[target], features)
    channel_weights = gradients.mean((2, 3), keepdim=True)  # [T, C, 1, 1]
    maps = F.relu((channel_weights * features).sum(1, keepdim=True))  # [T, 1, h, w]
    maps = F.interpolate(maps, size=clip.shape[-2:], mode="bilinear", align_corners=False)[:, 0]  # [T, H, W]
    maps = maps - maps.min()
    return (maps / maps.max().clamp_min(1e-12)).detach(), logits.detach()


def overlay(frames: np.ndarray, maps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend viridis heat maps ``[T, H, W]`` (in [0, 1]) over uint8 frames ``[T, H, W, 3]``."""
    return ((1 - alpha) * frames + alpha * colormap(maps)).round().astype(np.uint8)


def read_clip(path: Path, args: argparse.Namespace) -> np.ndarray:
    """The single test view of a video file or frame folder: uint8 ``[T, S, S, 3]``, S = ``--crop-size``."""
    reader = FrameFolderReader(path, args.frame_template) if path.is_dir() else VideoReader(path)
    try:
        indices = clip_sampler(args.num_frames, 1).test_indices(reader.num_frames, 0)
        frames = torch.from_numpy(reader.read(indices)).permute(0, 3, 1, 2)  # [T, 3, H, W]
    finally:
        reader.close()
    view = view_transform(args, args.crop_size)({"clip": frames}, torch.Generator())["clip"]  # [T, 3, S, S]
    return view.permute(0, 2, 3, 1).numpy()  # [T, S, S, 3]


def write_cam(frames: np.ndarray, maps: np.ndarray, out_dir: Path, title: str, fps: int = 4) -> dict[str, Path]:
    """PNG grid, one PNG per frame and an mp4 of the blended frames."""
    out_dir.mkdir(parents=True, exist_ok=True)
    blended = overlay(frames, maps)
    written = {"grid": save_heatmap_grid_png(maps[None], out_dir / "cam_frames.png", background_frames=frames,
                                             titles=[f"t={t}" for t in range(len(maps))], title=title)}
    for t, frame in enumerate(blended):
        Image.fromarray(frame).save(out_dir / f"cam_frame_{t:02d}.png")
    even = blended[:, : blended.shape[1] // 2 * 2, : blended.shape[2] // 2 * 2]  # H.264 4:2:0 needs even sides
    write_h264(out_dir / "cam.mp4", even, fps=fps, gop=len(even))
    written["mp4"] = out_dir / "cam.mp4"
    return written


def add_cam_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Grad-CAM")
    group.add_argument("--video", default=None, help="frame folder or video file (relative to --data-root)")
    group.add_argument("--class-index", type=int, default=None, help="class to explain (default: the prediction)")
    group.add_argument("--out", default="cam", help="output folder")


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    args, weights = parse_config(RECIPE, argv, "test", extra_args=add_cam_args, prog="python -m projects.masnet.cam")
    if args.video is None:
        raise SystemExit("--video is required")
    model = RECIPE.build_model(args)
    load_state_dict_verbose(model, weights, strict=True)
    video = Path(args.video) if Path(args.video).is_absolute() else Path(args.data_root) / args.video
    if not video.exists():
        raise SystemExit(f"--video {video} does not exist")
    frames = read_clip(video, args)
    clip = torch.from_numpy(frames).permute(3, 0, 1, 2)[None]  # [1, 3, T, S, S]
    inputs, _ = RECIPE.preprocess(args)(clip, None, False)
    maps, logits = grad_cam(model, inputs, args.class_index)
    names = class_names(args)
    target = int(logits.argmax()) if args.class_index is None else args.class_index
    label = names[target] if names else str(target)
    written = write_cam(frames, maps.numpy(), Path(args.out), f"Grad-CAM for '{label}' ({args.variant})")
    print(f"predicted {names[int(logits.argmax())] if names else int(logits.argmax())}; maps for '{label}' in "
          f"{args.out}")
    return written


if __name__ == "__main__":
    main()
