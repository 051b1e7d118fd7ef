"""Top-k classes of videos with any project's checkpoint, on the command line or from Python.

    python -m common.tools.predict --project masnet --checkpoint runs/ssv1_8f/checkpoints/best.pth \\
        --labels classes.txt video1.mp4 frames/video2 [--one-view] [--top-k 5] [--json]

    from common.tools.predict import predict
    predict("runs/ssv1_8f", "video.mp4")            # -> [("Pushing something from left to right", 0.83), ...]

Every video is scored as the project's test protocol does (``Recipe.test_protocol``: ``--num-clips`` x
``--num-crops`` views of the test sampler and crops, softmax probabilities or logits combined as the paper does;
reported as probabilities), or on the one middle view with ``--one-view``. The preprocessing is the run's: the
checkpoint's stored training configuration (or a run directory's ``config.json``), as test.py reads it.
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

PROG = "python -m common.tools.predict"


def add_predict_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("predict")
    group.add_argument("videos", nargs="*", metavar="VIDEO", help="video files or frame folders")
    group.add_argument("--labels", default=None, help="class names, one per line (default: the run's)")
    group.add_argument("--top-k", type=int, default=5)
    group.add_argument("--one-view", action=argparse.BooleanOptionalAction, default=False,
                       help="score the middle view only instead of the test protocol's views")
    group.add_argument("--json", action=argparse.BooleanOptionalAction, default=False, help="print JSON lines")


def video_scores(loaded: core.LoadedModel, video: str | Path, one_view: bool = False) -> torch.Tensor:
    """Class probabilities ``[K]`` of one video: the protocol's views combined as it says, or the middle view."""
    views = loaded.recipe.test_protocol(loaded.cfg)
    if one_view:
        views = ViewSpec(1, 1, score=views.score)
    clips = core.read_views(loaded, video, views)  # [V, 3, T, H, W]
    per_view = core.scores(loaded, clips, softmax=views.score == "softmax")  # [V, K]
    combined = per_view.mean(0)  # sum and mean rank alike; the mean keeps a probability
    return combined if views.score == "softmax" else combined.softmax(-1)


def run_checkpoint(run_dir: Path) -> Path:
    for name in ("best.pth", "last.pth"):
        if (run_dir / "checkpoints" / name).is_file():
            return run_dir / "checkpoints" / name
    raise FileNotFoundError(f"{run_dir}/checkpoints has neither best.pth nor last.pth")


def project_of(config: dict) -> str:
    """The project whose variant table holds the run's ``variant``."""
    from projects import recipes

    found = [name for name, recipe in recipes().items() if config.get("variant") in recipe.variants]
    if len(found) != 1:
        raise ValueError(f"cannot tell the project of variant {config.get('variant')!r} (matches: {found})")
    return found[0]


def load_run(run_dir: str | Path, *argv: str) -> core.LoadedModel:
    """The model of a training run directory (``config.json`` + ``checkpoints/best.pth`` or ``last.pth``)."""
    from projects import recipes

    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config = config.get("config", config)
    recipe = recipes()[project_of(config)]
    return core.load_model(recipe, ["--config", str(run_dir / "config.json"), "--checkpoint",
                                    str(run_checkpoint(run_dir)), *argv], add_predict_args, PROG)


def predict(model_or_run_dir: core.LoadedModel | str | Path, video: str | Path, k: int = 5,
            one_view: bool = False) -> list[tuple[str, float]]:
    """``[(label, probability)]`` of the ``k`` best classes of ``video`` (a file or a frame folder).

    ``model_or_run_dir``: a training run directory (its ``config.json`` gives the preprocessing) or a model
    :func:`load_run` / :func:`common.tools._explain_core.load_model` returned (load once for many videos).
    """
    loaded = model_or_run_dir if isinstance(model_or_run_dir, core.LoadedModel) else load_run(model_or_run_dir)
    return core.top_k(video_scores(loaded, video, one_view), k, loaded.label)


def main(argv: Sequence[str] | None = None) -> dict[str, list[tuple[str, float]]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    recipe, _ = core.project_recipe(argv)
    loaded = core.load_model(recipe, argv, add_predict_args, PROG)
    cfg = loaded.cfg
    if not cfg.videos:
        raise SystemExit("give at least one VIDEO")
    results = {}
    for video in cfg.videos:
        best = predict(loaded, video, cfg.top_k, cfg.one_view)
        results[video] = best
        if cfg.json:
            print(json.dumps({"video": video, "top_k": [{"label": label, "score": score} for label, score in best]}))
        else:
            print(f"{video}: " + ", ".join(f"{label} {score:.3f}" for label, score in best))
    return results


if __name__ == "__main__":
    main()
