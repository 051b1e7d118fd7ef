"""Explain a prediction of any project: Grad-CAM on any named layer, or the model's own attention, over a clip.

    python -m common.tools.explain --project masnet --checkpoint runs/ssv1_8f/checkpoints/best.pth \\
        --video clip.mp4 --out explain/clip                        # Grad-CAM of the predicted class
    python -m common.tools.explain --project efficient_slowfast --checkpoint ckpt.pyth --variant slowfast_r50 \\
        --video frames/ --top-k 3 --layer s5 --out explain/      # both pathways, top 3 classes
    python -m common.tools.explain --project motionformer --checkpoint ckpt.pyth --video clip.mp4 \\
        --method attention --query 4 7 7 --out explain/          # trajectory attention of one query patch
    python -m common.tools.explain --project mgma --checkpoint last.pth --list videos.txt --out explain/

The clip is the project's test view (its sampler, resize and crop, from the checkpoint's training configuration,
as test.py reads it; explicit flags win): view ``--clip-index`` of ``--num-clips`` and ``--crop-index`` of
``--num-crops`` (default: the middle ones), nothing random. ``--video`` is a video file or a frame folder;
``--list`` a file of one such path per line (batch mode: one output folder per video).

Per class explained, ``OUT/<class>/`` holds ``grid.png`` (one row per map over every frame, the class and score in
the title), ``<map>/frame_XX.png`` (each frame with its heat map) and ``overlay.mp4`` (H.264: the frames, then
each map's overlay, captioned) and ``maps.npz``; ``summary.json`` lists the top-5 scores and the files. ``--maps``
keeps the maps whose names start with the given prefixes (an MGMA unit, ``layer3.1``).

Methods (``--method``): ``gradcam`` on ``--layer`` (any module name; default: the recipe's ``explain_layers``, or
the last top-level feature map; SlowFast stages give one map per pathway, each aligned with the frames that
pathway sees) with the gradient of the pre-softmax class score; ``--softmax-gradient`` takes the gradient of the
softmax probability instead, as reference Grad-CAM scripts that run the model with its eval-time softmax do.
``attention``: the maps the recipe's ``attention_maps`` returns (MGMA's unit attention, Motionformer's trajectory
attention of ``--query``, ST-ABN's spatial maps and temporal weights).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from common.engine.recipe import ViewSpec
from common.tools import _explain_core as core
from common.tools._explain_render import write_explanation

PROG = "python -m common.tools.explain"


def add_explain_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("explain")
    group.add_argument("--video", default=None, help="video file or frame folder")
    group.add_argument("--list", default=None, help="batch mode: a file with one video path per line")
    group.add_argument("--out", default="explain", help="output folder")
    target = group.add_mutually_exclusive_group()
    target.add_argument("--class", dest="class_index", type=int, default=None, help="class to explain")
    target.add_argument("--top-k", type=int, default=1, help="explain the k best classes (default: the prediction)")
    group.add_argument("--method", choices=("gradcam", "attention"), default=None,
                       help="default: the recipe's first explain_methods")
    group.add_argument("--layer", nargs="+", default=None, help="Grad-CAM layer name(s), e.g. layer4 or s5")
    group.add_argument("--softmax-gradient", action=argparse.BooleanOptionalAction, default=False,
                       help="gradient of the softmax probability instead of the pre-softmax score")
    group.add_argument("--clip-index", type=int, default=None, help="which of --num-clips (default: the middle)")
    group.add_argument("--crop-index", type=int, default=None, help="which of --num-crops (default: the middle)")
    group.add_argument("--maps", nargs="+", default=None, metavar="PREFIX",
                       help="keep the maps whose name starts with one of these (e.g. an MGMA unit: layer3.1)")
    group.add_argument("--query", type=int, nargs=3, default=None, metavar=("FRAME", "ROW", "COL"),
                       help="query patch of token-attention maps (Motionformer); default: the centre")
    group.add_argument("--labels", default=None, help="class names, one per line (default: the run's)")
    group.add_argument("--fps", type=float, default=4.0, help="frame rate of overlay.mp4")


def view_index(cfg: argparse.Namespace, views: ViewSpec) -> int:
    clip = views.num_clips // 2 if cfg.clip_index is None else cfg.clip_index
    crop = views.num_crops // 2 if cfg.crop_index is None else cfg.crop_index
    if not (0 <= clip < views.num_clips and 0 <= crop < views.num_crops):
        raise SystemExit(f"--clip-index {clip} / --crop-index {crop} outside {views.num_clips} x {views.num_crops}")
    return clip * views.num_crops + crop


def select(maps: core.Maps, prefixes: Sequence[str] | None) -> core.Maps:
    """The maps whose name starts with one of ``prefixes`` (all for None)."""
    if not prefixes:
        return maps
    kept = {name: value for name, value in maps.items() if name.startswith(tuple(prefixes))}
    if not kept:
        raise SystemExit(f"no map matches --maps {' '.join(prefixes)}; choose from {', '.join(maps)}")
    return kept


def explain_clip(loaded: core.LoadedModel, clip: torch.Tensor, method: str, layers: Sequence[str] | None,
                 targets: Sequence[int | None], softmax_gradient: bool = False
                 ) -> list[tuple[int, core.Maps]]:
    """``[(class, {map name: [T, H, W]})]`` for a uint8 clip ``[3, T, H, W]``: one entry per target (None = the
    prediction); attention maps do not depend on the class and are computed once."""
    inputs, _ = loaded.recipe.preprocess(loaded.cfg)(clip[None].to(loaded.device), None, False)
    if method == "attention":
        maps = core.attention(loaded, inputs)
        probabilities = core.scores(loaded, clip[None])[0]
        return [(int(probabilities.argmax()) if target is None else target, maps) for target in targets]
    layers = layers or [core.default_layer(loaded.recipe, loaded.model, inputs)]
    results = []
    for target in targets:
        maps: dict = {}
        for layer in layers:
            layer_maps, _, chosen = core.grad_cam(loaded.model, inputs, layer, target, softmax_gradient)
            maps.update(layer_maps)
        results.append((chosen, maps))
    return results


def explain_video(loaded: core.LoadedModel, video: str | Path, out: Path) -> dict:
    cfg = loaded.cfg
    views = loaded.recipe.test_protocol(cfg)
    clip = core.read_views(loaded, video, views, [view_index(cfg, views)])[0]  # uint8 [3, T, H, W]
    probabilities = core.scores(loaded, clip[None])[0]
    best = core.top_k(probabilities, 5, loaded.label)
    if cfg.class_index is not None:
        targets = [cfg.class_index]
    else:
        targets = [int(i) for i in probabilities.topk(min(cfg.top_k, probabilities.numel())).indices]
    method = cfg.method or loaded.recipe.explain_methods[0]
    frames = clip.permute(1, 2, 3, 0).numpy()  # uint8 [T, H, W, 3]
    summary = {"video": str(video), "variant": cfg.variant, "method": method, "top5": best, "explained": {}}
    for target, maps in explain_clip(loaded, clip, method, cfg.layer, targets, cfg.softmax_gradient):
        maps = select(maps, cfg.maps)
        label = loaded.label(target)
        score = float(probabilities[target])
        title = f"{method} for '{label}' (p={score:.2f})"
        captions = [f"{label}: {score:.2f}", f"top-1 {best[0][0]} {best[0][1]:.2f}"]
        folder = out / f"{target:03d}_{_safe(label)}"
        written = write_explanation(frames, maps, folder, title, captions, cfg.fps)
        summary["explained"][label] = {"class": target, "score": score, "maps": list(maps),
                                       **{key: str(path) for key, path in written.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)[:40]


def main(argv: Sequence[str] | None = None) -> list[dict]:
    argv = list(sys.argv[1:] if argv is None else argv)
    recipe, _ = core.project_recipe(argv)
    loaded = core.load_model(recipe, argv, add_explain_args, PROG)
    cfg = loaded.cfg
    if (cfg.video is None) == (cfg.list is None):
        raise SystemExit("give one of --video or --list")
    videos = [cfg.video] if cfg.video else core.read_labels(cfg.list)
    out = Path(cfg.out)
    summaries = []
    for number, video in enumerate(videos):
        folder = out if len(videos) == 1 else out / f"{number:04d}_{_safe(Path(video).stem)}"
        folder.mkdir(parents=True, exist_ok=True)
        summary = explain_video(loaded, video, folder)
        top = summary["top5"][0]
        print(f"{video}: top-1 {top[0]} ({top[1]:.3f}); {summary['method']} maps in {folder}")
        summaries.append(summary)
    return summaries


if __name__ == "__main__":
    main()
