"""Video in, annotated video out: any project's model over a sliding window of a video, predictions drawn on it.

    python -m common.tools.demo --project masnet --checkpoint runs/ssv1_8f/checkpoints/best.pth \\
        --labels classes.txt --input video.mp4 --out annotated.mp4 [--stride 8] [--gradcam] [--json log.jsonl]
    python -m common.tools.demo ... --input /dev/video0 --input-format v4l2 --max-frames 300   # a camera

The input is read with PyAV (a camera where PyAV's device formats can open one). The model sees the last
``--window`` frames (default: the clip's frames x ``--sampling-rate``), ``--num-frames`` of them evenly spaced,
resized and cropped as the project's test view; it predicts every ``--stride`` frames (not every frame). The output
(H.264 at the input's frame rate) is each input frame with the latest top-k labels and scores and the measured
throughput: ``clips/s`` of the model alone (forward passes per second of model time) and ``video fps`` (input
frames processed per second of wall time, decoding, drawing and encoding included). ``--gradcam`` puts the
Grad-CAM of the top-1 class on the model's view of the newest frame beside it. ``--json`` writes one line per
prediction: ``{"time": seconds into the video, "frame": n, "top_k": [[label, score], ...]}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Iterator, Sequence

import av
import numpy as np
import torch
from tqdm import tqdm

from common.engine.recipe import ViewSpec
from common.tools import _explain_core as core
from common.tools._explain_render import caption, overlay

PROG = "python -m common.tools.demo"


def add_demo_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("demo")
    group.add_argument("--input", default=None, help="video file, or a camera device with --input-format")
    group.add_argument("--input-format", default=None, help="PyAV/FFmpeg input format, e.g. v4l2 for a camera")
    group.add_argument("--out", default="demo.mp4", help="annotated H.264 video")
    group.add_argument("--labels", default=None, help="class names, one per line (default: the run's)")
    group.add_argument("--stride", type=int, default=None, help="frames between predictions (default: --num-frames)")
    group.add_argument("--window", type=int, default=None,
                       help="input frames the clip spans (default: --num-frames x --sampling-rate)")
    group.add_argument("--top-k", type=int, default=3)
    group.add_argument("--gradcam", action=argparse.BooleanOptionalAction, default=False,
                       help="the top-1 Grad-CAM on the model's view beside the frame")
    group.add_argument("--layer", default=None, help="Grad-CAM layer (default: the recipe's)")
    group.add_argument("--height", type=int, default=360, help="output frame height (the input is resized)")
    group.add_argument("--max-frames", type=int, default=None, help="stop after this many input frames")
    group.add_argument("--json", default=None, help="write the predictions here, one JSON object per line")


def frames_of(path: str, input_format: str | None) -> tuple[Iterator[np.ndarray], float, int | None]:
    """(uint8 RGB frames, frame rate, frame count when known) of a file or device, decoded one at a time."""
    container = av.open(path, format=input_format)
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 25)

    def generate() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        finally:
            container.close()

    return generate(), rate, stream.frames or None


class H264Stream:
    """Frames to an H.264 mp4 one at a time (the first frame fixes the size; sides are cut to even)."""

    def __init__(self, path: str | Path, fps: float) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream("libx264", rate=max(1, round(fps)))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "20", "preset": "veryfast"}
        self.started = False

    def write(self, frame: np.ndarray) -> None:
        frame = frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]
        if not self.started:
            self.stream.height, self.stream.width = frame.shape[:2]
            self.started = True
        self.container.mux(self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), "rgb24")))

    def close(self) -> None:
        if self.started:
            self.container.mux(self.stream.encode(None))
        self.container.close()


def resize(frame: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    width = max(2, round(frame.shape[1] * height / frame.shape[0]))
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


class ClipView:
    """The project's test-view transform (resize, crop) applied to a window of frames: uint8 ``[3, T, S, S]``."""

    def __init__(self, loaded: core.LoadedModel, sample_path: str) -> None:
        from common.data.annotations import VideoRecord

        dataset = loaded.recipe.view_dataset(loaded.cfg, [VideoRecord(sample_path, 0)], ViewSpec(1, 1))
        self.transform = dataset.crop_transforms[0] if dataset.crop_transforms else dataset.transform

    def __call__(self, frames: Sequence[np.ndarray], count: int) -> torch.Tensor:
        picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
        clip = torch.from_numpy(np.stack([frames[i] for i in picks])).permute(0, 3, 1, 2)  # [T, 3, H, W]
        if self.transform is not None:
            clip = self.transform({"clip": clip}, torch.Generator().manual_seed(0))["clip"]
        return clip.permute(1, 0, 2, 3).contiguous()  # [3, T, S, S]


def run_demo(loaded: core.LoadedModel, source: str, out: str | Path, *, input_format: str | None = None,
             stride: int | None = None, window: int | None = None, k: int = 3, gradcam: bool = False,
             layer: str | None = None, height: int = 360, max_frames: int | None = None,
             json_path: str | None = None, progress: bool = True) -> dict:
    """Annotate ``source`` into ``out``; returns counts and throughput (see the module docstring)."""
    cfg = loaded.cfg
    frames_needed = cfg.num_frames
    window = window or frames_needed * max(1, getattr(cfg, "sampling_rate", 1) or 1)
    stride = stride or frames_needed
    frames, fps, total = frames_of(source, input_format)
    view = ClipView(loaded, source)
    preprocess = loaded.recipe.preprocess(cfg)
    buffer: deque[np.ndarray] = deque(maxlen=window)
    writer = H264Stream(out, fps)
    log = open(json_path, "w") if json_path else None
    best: list[tuple[str, float]] = []
    heat: np.ndarray | None = None
    model_seconds, predictions, count = 0.0, 0, 0
    start = time.perf_counter()
    bar = tqdm(total=min(total or max_frames or 0, max_frames or total or 0) or None, unit="frame",
               disable=not progress, desc="demo")
    try:
        for frame in frames:
            if max_frames is not None and count >= max_frames:
                break
            buffer.append(frame)
            count += 1
            if count >= window and (count - window) % stride == 0:  # a full window, every stride frames
                clip = view(list(buffer), frames_needed)
                inputs, _ = preprocess(clip[None].to(loaded.device), None, False)
                tick = time.perf_counter()
                with torch.no_grad():
                    logits = core.logits_of(loaded.model(inputs)).float()[0]
                if loaded.device.type == "cuda":
                    torch.cuda.synchronize()
                model_seconds += time.perf_counter() - tick
                predictions += 1
                best = core.top_k(logits.softmax(-1).cpu(), k, loaded.label)
                if gradcam:
                    chosen = layer or core.default_layer(loaded.recipe, loaded.model, inputs)
                    maps, _, _ = core.grad_cam(loaded.model, inputs, chosen, None)
                    first = next(iter(maps.values()))[-1:]  # the newest frame's map [1, S, S]
                    newest = clip[:, -1].permute(1, 2, 0).numpy()[None]  # [1, S, S, 3]
                    heat = overlay(newest, first)[0]
                if log is not None:
                    log.write(json.dumps({"time": round((count - 1) / fps, 3), "frame": count - 1,
                                          "top_k": [[label, round(score, 4)] for label, score in best]}) + "\n")
            shown = resize(frame, height)
            if gradcam:  # a black panel until the first map: the video's size is fixed by its first frame
                panel = resize(heat, height) if heat is not None else np.zeros((height, height, 3), np.uint8)
                shown = np.concatenate([shown, panel], axis=1)
            elapsed = time.perf_counter() - start
            lines = [f"{label}: {score:.2f}" for label, score in best] or ["(filling the window)"]
            lines.append(f"model {predictions / max(model_seconds, 1e-9):.1f} clips/s | "
                         f"video {count / max(elapsed, 1e-9):.1f} frames/s" if predictions else "")
            writer.write(caption(shown, lines, scale=max(1, height // 180)))
            bar.update(1)
    finally:
        bar.close()
        writer.close()
        if log is not None:
            log.close()
    elapsed = time.perf_counter() - start
    return {"frames": count, "predictions": predictions, "fps": fps, "out": str(out),
            "clips_per_second": predictions / max(model_seconds, 1e-9), "video_frames_per_second": count / elapsed,
            "last_top_k": best}


def main(argv: Sequence[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    recipe, _ = core.project_recipe(argv)
    loaded = core.load_model(recipe, argv, add_demo_args, PROG)
    cfg = loaded.cfg
    if cfg.input is None:
        raise SystemExit("--input is required")
    summary = run_demo(loaded, cfg.input, cfg.out, input_format=cfg.input_format, stride=cfg.stride,
                       window=cfg.window, k=cfg.top_k, gradcam=cfg.gradcam, layer=cfg.layer, height=cfg.height,
                       max_frames=cfg.max_frames, json_path=cfg.json, progress=not cfg.no_progress)
    print(f"{summary['frames']} frames, {summary['predictions']} predictions: model "
          f"{summary['clips_per_second']:.1f} clips/s, video {summary['video_frames_per_second']:.1f} frames/s; "
          f"wrote {summary['out']}")
    return summary


if __name__ == "__main__":
    main()
