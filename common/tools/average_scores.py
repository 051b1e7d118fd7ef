"""Ensemble the per-view test scores of several runs (two-stream, several clips/crops, several models).

    python -m common.tools.average_scores runs/rgb/scores.npz runs/flow/scores.npz --weights 1 1.5 --softmax

Each ``.npz`` is what a project's ``test.py`` writes through `common.engine.multiview.MultiViewTestMeter.save`:
``scores`` float ``[num_videos, num_views, num_classes]`` (NaN for a missing view), ``labels`` ``[num_videos]``,
``video_ids``, optional ``class_names``, ``aggregate`` ("sum"/"mean"/"max") and ``score`` ("logits"/"softmax"); multi-head
files (EPIC verb/noun) hold ``heads`` and ``scores_<head>`` / ``labels_<head>`` / ``class_names_<head>``. Each file
is first aggregated over its views as its own run did (the saved ``aggregate`` and ``score``; files without them:
mean of logits). ``--softmax`` then turns every file's per-video scores into probabilities, so runs whose scores
have different scales weigh as ``--weights`` says. Videos are matched by ``video_ids`` (any order); files must agree
on the video set and the labels. Prints top-1 / top-5 / mean class accuracy of each file and of the ensemble;
``--out-dir`` writes the ensemble's ``scores.npz`` and confusion matrices (``.npy`` and PNG).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.engine.multiview import MultiViewTestMeter


@dataclass
class ScoreFile:
    path: str
    video_ids: np.ndarray  # [V] str
    scores: dict[str, np.ndarray]  # head -> [V, C], aggregated over views
    labels: dict[str, np.ndarray]  # head -> [V]
    class_names: dict[str, list[str]]  # head -> names


def _key(name: str, head: str) -> str:
    """Array name in the npz: ``scores`` for single-head files, ``scores_verb`` for head "verb"."""
    return f"{name}_{head}" if head else name


def load_scores(path: str | Path, allow_missing: bool = False) -> ScoreFile:
    """Read one per-view scores file and aggregate it over views with the rule it was saved with."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as .npz ({error})") from None
    with data:
        heads = [str(h) for h in data["heads"]] if "heads" in data.files else [""]
        missing = [k for k in [_key(n, h) for h in heads for n in ("scores", "labels")] + ["video_ids"]
                   if k not in data.files]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing} (has {sorted(data.files)})")
        per_view = {h: data[_key("scores", h)].astype(np.float32) for h in heads}
        labels = {h: data[_key("labels", h)].astype(np.int64) for h in heads}
        names = {h: [str(n) for n in data[_key("class_names", h)]] if _key("class_names", h) in data.files else []
                 for h in heads}
        aggregate = str(data["aggregate"]) if "aggregate" in data.files else "mean"
        score = str(data["score"]) if "score" in data.files else "logits"
        video_ids = np.asarray([str(v) for v in data["video_ids"]])
    for head, values in per_view.items():
        if values.ndim != 3 or values.shape[0] != len(video_ids) or labels[head].shape != (len(video_ids),):
            raise ValueError(f"{path}: {_key('scores', head)} {values.shape}, labels "
                             f"{labels[head].shape} and {len(video_ids)} video_ids do not agree")
    first = per_view[heads[0]]
    num_classes = {h: v.shape[2] for h, v in per_view.items()} if heads != [""] else first.shape[2]
    pack = (lambda values: values) if heads != [""] else (lambda values: values[""])  # noqa: E731
    meter = MultiViewTestMeter(len(video_ids), first.shape[1], num_classes, aggregate=aggregate, score=score,
                               labels=pack(labels))
    for head, values in per_view.items():
        meter.scores[head][:] = values
    meter.received[:] = ~np.isnan(first).any(axis=-1)
    try:
        aggregated = meter.finalize(allow_missing)
    except RuntimeError as error:
        raise ValueError(f"{path}: {error} (--allow-missing aggregates over the views present)") from None
    return ScoreFile(str(path), video_ids, aggregated, labels, names)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _key_style(video_ids: np.ndarray) -> str:
    """How a score file names its videos, for the error when two files disagree."""
    example = str(video_ids[0]) if len(video_ids) else ""
    if example.startswith("/"):
        return (f"absolute paths (e.g. {example!r}; written before video ids were made relative: re-run its test "
                "to ensemble it with other runs)")
    return f"paths relative to the videos' common folder, without extension (e.g. {example!r})"


def ensemble(files: list[ScoreFile], weights: list[float], softmax: bool) -> ScoreFile:
    """Weighted sum of the files' per-video scores, in the first file's video order."""
    reference = files[0]
    position = {video: i for i, video in enumerate(reference.video_ids)}
    if len(position) != len(reference.video_ids):
        raise ValueError(f"{reference.path}: video_ids are not unique")
    total = {head: np.zeros_like(values) for head, values in reference.scores.items()}
    for file, weight in zip(files, weights):
        if set(file.scores) != set(total):
            raise ValueError(f"{file.path}: heads {sorted(file.scores)} differ from {reference.path}'s")
        if len(file.video_ids) != len(position) or set(file.video_ids) != set(position):
            extra = sorted(set(file.video_ids) ^ set(position))[:5]
            raise ValueError(f"{file.path}: its videos differ from {reference.path}'s (e.g. {extra}); its keys "
                             f"are {_key_style(file.video_ids)}, {reference.path}'s are "
                             f"{_key_style(reference.video_ids)}")
        order = np.argsort([position[v] for v in file.video_ids])  # rows of `file` in the reference order
        for head in total:
            scores = file.scores[head][order]
            if scores.shape != total[head].shape:
                raise ValueError(f"{file.path}: {scores.shape[1]} classes, {reference.path} has "
                                 f"{total[head].shape[1]}")
            if not np.array_equal(file.labels[head][order], reference.labels[head]):
                raise ValueError(f"{file.path}: labels differ from {reference.path}'s for the same videos")
            total[head] += weight * (_softmax(scores) if softmax else scores)
    return ScoreFile("ensemble", reference.video_ids, total, reference.labels, reference.class_names)


def evaluation_meter(file: ScoreFile) -> MultiViewTestMeter:
    """A one-view meter holding ``file``'s per-video scores, for its metrics, confusion matrix and saving."""
    heads = list(file.scores)
    single = heads == [""]
    num_classes = file.scores[""].shape[1] if single else {h: s.shape[1] for h, s in file.scores.items()}
    names = {h: n for h, n in file.class_names.items() if n}
    meter = MultiViewTestMeter(len(file.video_ids), 1, num_classes, aggregate="sum", score="logits",
                               class_names=(names.get("") if single else names) if len(names) == len(heads) else None)
    videos = np.arange(len(file.video_ids))
    meter.update(file.scores[""] if single else file.scores, videos, np.zeros_like(videos),
                 file.labels[""] if single else file.labels)
    return meter


def format_metrics(name: str, metrics: dict[str, float]) -> str:
    shown = ", ".join(f"{key} {value:.2f}" for key, value in metrics.items() if key != "num_videos")
    return f"{name}: {shown} ({int(metrics['num_videos'])} videos)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.tools.average_scores", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("files", nargs="+", help="per-view score .npz files written by the projects' test.py")
    parser.add_argument("--weights", type=float, nargs="+", help="one weight per file (default: all 1)")
    parser.add_argument("--softmax", action="store_true", help="softmax each file's per-video scores first")
    parser.add_argument("--allow-missing", action="store_true", help="aggregate videos over the views they have")
    parser.add_argument("--out-dir", help="write the ensemble's scores.npz and confusion matrices here")
    args = parser.parse_args(argv)
    weights = args.weights or [1.0] * len(args.files)
    if len(weights) != len(args.files):
        parser.error(f"{len(weights)} weights for {len(args.files)} files")
    try:
        files = [load_scores(path, args.allow_missing) for path in args.files]
        combined = ensemble(files, weights, args.softmax)
    except (KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for file in files:
        print(format_metrics(file.path, evaluation_meter(file).metrics()))
    meter = evaluation_meter(combined)
    print(format_metrics(f"ensemble (weights {weights}{', softmax' if args.softmax else ''})", meter.metrics()))
    if args.out_dir:
        written = meter.save(args.out_dir, video_ids=list(combined.video_ids))
        print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
