"""Explain a prediction of any project: Grad-CAM on any named layer, or the model's own attention, over a clip.

    python -m common.tools.explain --project masnet --checkpoint runs/ssv1_8f/checkpoints/best.pth \\
        --video clip.mp4 --out explain/clip                        # Grad-CAM of the predicted class
    python -m common.tools.explain --project efficient_slowfast --checkpoint ckpt.pyth --variant slowfast_r50 \\
        --video frames/ --top-k 3 --layer s5 --out explain/      # both pathways, top 3 classes
    python -m common.tools.explain --project motionformer --checkpoint ckpt.pyth --video clip.mp4 \\
        --method attention --query 4 7 7 --block 5 --per-head --out explain/   # trajectory attention, per head
    python -m common.tools.explain --project st_abn --checkpoint best.pth --limit 50 --colormap jet \\
        --overlay-alpha 0.4 --scale raw --bar-ends exclude --out explain/       # ST-ABN's figures, --val-list
    torchrun --nproc-per-node 4 -m common.tools.explain --project mgma --checkpoint last.pth --list videos.txt

The clip is the project's test view (its sampler, resize and crop, from the checkpoint's training configuration,
as test.py reads it; explicit flags win): view ``--clip-index`` of ``--num-clips`` and ``--crop-index`` of
``--num-crops`` (default: the middle ones), nothing random. ``--video`` takes video files or frame folders,
``--list`` a file of one per line (the first field of a line, so annotation lists work), and without either the
test records of ``--val-list`` are explained; relative paths that do not exist are looked up under
``--data-root``, ``--limit N`` keeps the first N videos. Several videos get one folder each, named by video id;
under torchrun or Slurm each process explains its share (rank, rank + world size, ...), no process group needed.

Per class explained, ``OUT/<class>/`` holds ``grid.png`` (a row of the frames and one per map, the class and score
in the title), ``input/`` the frames, ``<map>/frame_XX.png`` (each frame with its heat map, or under its bar for
per-frame weights), ``overlay.mp4`` (H.264: the frames, then each map's overlay, captioned) and ``maps.npz``;
``summary.json`` lists the top-5 scores and the files, ``attention.npz`` the raw attention maps and logits.
``--maps`` keeps the maps whose names start with the given prefixes (an MGMA unit, ``layer3.1``).

Methods (``--method``): ``gradcam`` on ``--layer`` (any module name; default: the recipe's ``explain_layers``, or
the last top-level feature map; SlowFast stages give one map per pathway, each aligned with the frames that
pathway sees) with the gradient of the pre-softmax class score; ``--softmax-gradient`` takes the gradient of the
softmax probability instead, as reference Grad-CAM scripts that run the model with its eval-time softmax do.
``attention``: the maps the recipe's ``attention_maps`` returns (MGMA's unit attention, Motionformer's trajectory
attention of ``--query`` in ``--block``, one row per head with ``--per-head``, ST-ABN's spatial maps and temporal
weights). Per-frame weights are drawn as bars over the frames (``--bar-ends exclude``: the boundary frames out of
the min-max, raw). ``--edit-attention NAME=VALUES`` replaces one of the model's maps in its forward pass (attention
editing; the recipe's ``attention_edits``; comma-separated values, or a ``.npy`` / ``.npz`` file such as a
modified ``attention.npz``): the maps and the prediction are the edited forward pass's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.data.annotations import VideoRecord
from common.data.datasets import video_ids
from common.engine.recipe import ViewSpec
from common.tools import _explain_core as core
from common.tools._explain_render import COLORMAPS, Style, write_explanation

PROG = "python -m common.tools.explain"


def attention_edit(text: str) -> tuple[str, np.ndarray]:
    """``NAME=v1,v2,...``, ``NAME=FILE.npy`` or ``NAME=FILE.npz`` (its array NAME) -> ``(NAME, float32 values)``."""
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=v1,v2,... or NAME=FILE.npy / FILE.npz")
    if values.endswith((".npy", ".npz")):
        with np.load(values) as loaded:
            array = loaded if values.endswith(".npy") else loaded[name]
            return name, np.asarray(array, dtype=np.float32)
    try:
        return name, np.array([float(value) for value in values.split(",")], dtype=np.float32)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def add_explain_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("explain")
    group.add_argument("--video", nargs="+", default=None, help="video files or frame folders")
    group.add_argument("--list", default=None, help="a file with one video per line (its first field)")
    group.add_argument("--limit", type=int, default=None, help="explain the first N videos only")
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
    group.add_argument("--block", type=int, default=-1,
                       help="which block's attention (transformers; negative counts from the end)")
    group.add_argument("--per-head", action=argparse.BooleanOptionalAction, default=False,
                       help="one attention map per head beside their mean (transformers)")
    group.add_argument("--edit-attention", type=attention_edit, action="append", default=None,
                       metavar="NAME=VALUES", help="replace the model's attention map NAME in its forward pass "
                       "(comma-separated values, or a .npy / .npz file); repeatable")
    group.add_argument("--scale", choices=("clip", "raw"), default="clip",
                       help="attention maps min-max over the clip, or their raw values (sigmoid / softmax maps)")
    group.add_argument("--colormap", choices=sorted(COLORMAPS), default="viridis", help="heat-map colours")
    group.add_argument("--overlay-alpha", type=float, default=0.5, help="weight of the heat map in the blend")
    group.add_argument("--bar-ends", choices=("include", "exclude"), default="include",
                       help="per-frame weight bars: exclude = first and last frame out of the min-max, drawn raw")
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
                 class_index: int | None = None, top_k: int = 1, softmax_gradient: bool = False,
                 scale: str = "clip") -> tuple[torch.Tensor, list[tuple[int, core.Maps]], dict[str, np.ndarray]]:
    """Explain a uint8 clip ``[3, T, H, W]``: ``(probabilities [K], [(class, maps)], raw attention)``, one entry per
    class explained (``class_index``, else the ``top_k`` best). Attention maps do not depend on the class and are
    computed once; under ``--edit-attention`` the probabilities are the edited forward pass's."""
    inputs, _ = loaded.recipe.preprocess(loaded.cfg)(clip[None].to(loaded.device), None, False)
    found = core.attention(loaded, inputs, scale) if method == "attention" else None
    if found is not None and found.logits is not None:
        probabilities = found.logits.softmax(-1)
    else:
        probabilities = core.scores(loaded, clip[None])[0]
    if class_index is None:
        targets = [int(i) for i in probabilities.topk(min(top_k, probabilities.numel())).indices]
    else:
        targets = [class_index]
    if found is not None:
        return probabilities, [(target, found.maps) for target in targets], found.raw
    layers = layers or [core.default_layer(loaded.recipe, loaded.model, inputs)]
    results = []
    for target in targets:
        maps: dict = {}
        for layer in layers:
            layer_maps, _, _ = core.grad_cam(loaded.model, inputs, layer, target, softmax_gradient)
            maps.update(layer_maps)
        results.append((target, maps))
    return probabilities, results, {}


def explain_video(loaded: core.LoadedModel, video: str | Path | VideoRecord, out: Path) -> dict:
    cfg = loaded.cfg
    views = loaded.recipe.test_protocol(cfg)
    clip = core.read_views(loaded, video, views, [view_index(cfg, views)])[0]  # uint8 [3, T, H, W]
    method = cfg.method or loaded.recipe.explain_methods[0]
    probabilities, explained, raw = explain_clip(loaded, clip, method, cfg.layer, cfg.class_index, cfg.top_k,
                                                 cfg.softmax_gradient, cfg.scale)
    best = core.top_k(probabilities, 5, loaded.label)
    frames = clip.permute(1, 2, 3, 0).numpy()  # uint8 [T, H, W, 3]
    style = Style(cfg.colormap, cfg.overlay_alpha, cfg.bar_ends)
    name = video.path if isinstance(video, VideoRecord) else str(video)
    summary = {"video": name, "variant": cfg.variant, "method": method, "top5": best, "explained": {}}
    if cfg.edit_attention:
        summary["edited"] = [edited for edited, _ in cfg.edit_attention]
    if raw:
        np.savez(out / "attention.npz", **raw)
    for target, maps in explained:
        maps = select(maps, cfg.maps)
        label = loaded.label(target)
        score = float(probabilities[target])
        title = f"{method} for '{label}' (p={score:.2f})"
        captions = [f"{label}: {score:.2f}", f"top-1 {best[0][0]} {best[0][1]:.2f}"]
        folder = out / f"{target:03d}_{_safe(label)}"
        written = write_explanation(frames, maps, folder, title, captions, cfg.fps, style)
        summary["explained"][label] = {"class": target, "score": score, "maps": list(maps),
                                       **{key: str(path) for key, path in written.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)[:40]


def _existing(path: str, root: str) -> str:
    """``path`` itself when it exists, else under ``root`` (a relative path in a list or on the command line)."""
    return path if Path(path).exists() or Path(path).is_absolute() else str(Path(root) / path)


def videos(loaded: core.LoadedModel) -> list[VideoRecord]:
    """What to explain: ``--video``, ``--list`` or the recipe's test records (``--val-list``), first ``--limit``."""
    cfg = loaded.cfg
    if cfg.video and cfg.list:
        raise SystemExit("give --video or --list, not both")
    if cfg.video or cfg.list:
        lines = cfg.video or core.read_labels(cfg.list)
        root = getattr(cfg, "data_root", ".")
        paths = [line if Path(_existing(line, root)).exists() else line.split()[0] for line in lines]
        records = [VideoRecord(_existing(path, root), 0, source=path) for path in paths]
    elif getattr(cfg, "val_list", None):
        records = list(loaded.recipe.dataset(cfg, "test", ViewSpec(1, 1)).records)
    else:
        raise SystemExit("nothing to explain: give --video, --list or --val-list")
    return records[:cfg.limit]


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Explain every video (this process's share under torchrun / Slurm); returns the summaries."""
    argv = list(sys.argv[1:] if argv is None else argv)
    recipe, _ = core.project_recipe(argv)
    loaded = core.load_model(recipe, argv, add_explain_args, PROG)
    records = videos(loaded)
    out = Path(loaded.cfg.out)
    names = video_ids(records) if len(records) > 1 else [""]
    summaries = []
    for record, name in core.shard(list(zip(records, names))):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        summary = explain_video(loaded, record, folder)
        top = summary["top5"][0]
        print(f"{record.path}: top-1 {top[0]} ({top[1]:.3f}); {summary['method']} maps in {folder}")
        summaries.append(summary)
    return summaries


if __name__ == "__main__":
    main()
