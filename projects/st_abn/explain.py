"""Visual explanation with ST-ABN's own attention maps: where (spatial map) and when (temporal weights) the model
looks, for videos or frame folders and a checkpoint; in batches, on CPU or GPU, and under ``torchrun`` (the videos
are shared out between processes).

    python -m projects.st_abn.explain --checkpoint runs/sthv1_st_abn_32/checkpoints/best.pth \
        --data-root /data/sthv1/frames --video 100218 100219 --out explain/
    python -m projects.st_abn.explain --checkpoint epoch_150.pth --list val_videofolder.txt --limit 50 ...

Every video is read as the reference's test view (``val`` sampling of the checkpoint's setting, short side to
``--scale-size``, centre crop ``--crop-size``), and gets a folder ``OUT/<video id>/`` with:

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

from common.data.annotations import read_rawframe_list
from common.data.frame_folder import FrameFolderReader
from common.data.synthetic import write_h264
from common.data.transforms import TestCrop
from common.data.video_reader import VideoReader
from common.distributed import init_distributed
from common.engine.checkpoint import load_checkpoint, load_state_dict_verbose, unwrap_state_dict
from projects.st_abn.model import VARIANTS, STABN, build_model, convert_reference_state_dict
from projects.st_abn.transforms import MMActionV1Rescale, STABNPreprocess, STABNSegmentSampler

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

def load_model(path: str, variant: str | None, num_frames: int | None,
               log: Any = print) -> tuple[STABN, str, dict[str, Any]]:
    """The model of a checkpoint of ours (``model`` + ``config``) or of the reference (``backbone.*``), its variant
    and the training configuration the checkpoint stores (empty for the reference's)."""
    checkpoint = load_checkpoint(path)
    config = dict(checkpoint.get("config", {})) if isinstance(checkpoint, dict) else {}
    state = unwrap_state_dict(checkpoint)
    variant = variant or config.get("variant", "st_abn_r50")
    if any(key.startswith(("backbone.", "cls_head.")) for key in state):
        state = convert_reference_state_dict(state, variant, log=log)
    classifier = "attention.fc.weight" in state
    frames = num_frames or config.get("num_frames") or VARIANTS[variant].num_frames
    model = build_model(variant, state["fc.weight"].shape[0], num_frames=frames, attention_classifier=classifier)
    load_state_dict_verbose(model, state, strict=True, log=log)
    return model.eval(), variant, config


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m projects.st_abn.explain", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a main.py checkpoint or a reference epoch_*.pth")
    parser.add_argument("--video", nargs="*", default=[], help="frame folders or video files (under --data-root)")
    parser.add_argument("--list", help="an MMAction / TSM list (folder num_frames label): explain its videos")
    parser.add_argument("--limit", type=int, default=None, help="only the first N videos of --list")
    parser.add_argument("--data-root", default="", help="prefix of relative --video / --list paths")
    parser.add_argument("--out", default="explain", help="output folder (one sub-folder per video)")
    parser.add_argument("--variant", default=None, help="default: the checkpoint's, else st_abn_r50")
    parser.add_argument("--num-frames", type=int, default=None, help="default: the checkpoint's, else 32")
    parser.add_argument("--sampling", choices=("segments", "window"), default=None,
                        help="segments: T TSN segments (_32); window: T frames at stride 2 (_32_2); default: the "
                             "checkpoint's, else segments")
    parser.add_argument("--frame-template", default=None, help="frame file names; default: the checkpoint's, "
                        "else '{:05d}.jpg' (SSv1; SSv2 frames are '{:06d}.jpg')")
    parser.add_argument("--scale-size", type=int, default=256)
    parser.add_argument("--crop-size", type=int, default=None, help="default: the variant's input size")
    parser.add_argument("--reference-short-video", action="store_true",
                        help="the reference's sampling of videos of at most T frames (every frame the first one)")
    parser.add_argument("--reference-boundary", action="store_true",
                        help="the reference's normalisation of the temporal bar (boundary frames kept raw)")
    parser.add_argument("--temporal-attention", type=float, nargs="+", default=None,
                        help="T weights that replace the computed temporal attention (attention editing)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--fps", type=int, default=4, help="frame rate of attention.mp4")
    return parser


def video_paths(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[tuple[str, Path]]:
    """``(id, path)`` of every video to explain."""
    root = Path(args.data_root)
    names = list(args.video)
    if args.list:
        names += [record.path for record in read_rawframe_list(args.list)][:args.limit]
    if not names:
        parser.error("give --video and/or --list")
    return [(Path(name).name if Path(name).is_absolute() else name, Path(name) if Path(name).is_absolute()
             else root / name) for name in names]


def main(argv: Sequence[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    info = init_distributed(args.device)
    model, name, config = load_model(args.checkpoint, args.variant, args.num_frames,
                                     log=print if info.is_main else (lambda message: None))
    model.to(info.device)
    variant = VARIANTS[name]
    sampling = args.sampling or config.get("sampling", "segments")
    frames = model.num_frames
    sampler = (STABNSegmentSampler(frames, test_rule="val", reference_short_video=args.reference_short_video)
               if sampling == "segments" else STABNSegmentSampler(1, new_length=frames, new_step=2, test_rule="val"))
    crop = args.crop_size or config.get("crop_size") or variant.input_size
    template = args.frame_template or config.get("frame_template", "{:05d}.jpg")
    preprocess = STABNPreprocess(variant.mean, variant.std)
    edited = None if args.temporal_attention is None else torch.tensor(args.temporal_attention)
    mine = video_paths(args, parser)[info.rank::info.world_size]
    written = []
    for start in range(0, len(mine), args.batch_size):
        batch = mine[start:start + args.batch_size]
        views = np.stack([read_view(path, sampler, args.scale_size, crop, template) for _, path in batch])
        clips = torch.from_numpy(views).permute(0, 4, 1, 2, 3).to(info.device)  # [B, 3, T, S, S]
        with torch.no_grad():
            out = model.forward_with_attention(preprocess(clips, None, False)[0], edited)
        for index, (video_id, _) in enumerate(batch):
            written.append(write_explanation(
                Path(args.out) / video_id, views[index], out["spatial_attention"][index, 0].cpu().numpy(),
                out["temporal_attention"][index, 0, :, 0, 0].cpu().numpy(), out["logits"][index].cpu().numpy(),
                args.reference_boundary, args.fps))
            top5 = out["logits"][index].topk(min(5, model.num_classes)).indices.tolist()
            (written[-1] / "prediction.json").write_text(json.dumps({"video": video_id, "top5": top5}) + "\n")
    print(f"rank {info.rank}: explanations of {len(written)} videos in {args.out}")
    return written


if __name__ == "__main__":
    main()
