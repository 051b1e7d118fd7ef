"""Multi-view test aggregation: per-view scores -> per-video scores -> accuracy, confusion matrix, saved scores.

A test dataset expands each video into ``num_views = num_clips * num_crops`` items (see ``common.data.datasets``); the model
scores every item; :class:`MultiViewTestMeter` files each score under ``(video_index, view_index)``, so the order in
which views arrive (workers, DDP ranks, batch boundaries) does not matter and a view seen twice (a padded DDP
sampler) is stored once. Aggregation is what each paper did:

- ``aggregate="sum", score="softmax"``: PySlowFast, Motionformer and MGMA (MGMA's model already returns
  probabilities, so it uses ``score="logits"``, meaning "as the model returned them");
- ``aggregate="mean", score="logits"``: TSM and MAS-Net ``test.py`` (its ``--softmax`` applies after averaging, which
  does not change the ranking);
- ``aggregate="max"``: the element-wise maximum over a video's views, PySlowFast's ``TestMeter(ensemble_method="max")``.
  PySlowFast starts that maximum from zeros, which changes nothing for non-negative scores (softmax, or a model that
  returns probabilities) but floors negative logits at 0; we take the maximum of the views themselves;
- EPIC-Kitchens: ``num_classes={"verb": 97, "noun": 300}``, dict scores and labels; an action is correct when the
  verb label is in the verb top-k **and** the noun label is in the noun top-k (independent top-k lists, as
  Motionformer's meter).

``save`` writes ``scores.npz``: ``scores`` float32 ``[num_videos, num_views, num_classes]`` (raw per-view scores,
NaN where a view is missing), ``labels`` int64 ``[num_videos]``, ``video_ids``, ``class_names``, plus ``aggregate``
and ``score``. Multi-head meters write ``scores_<head>`` / ``labels_<head>`` / ``class_names_<head>`` and ``heads``.
This layout is the contract with ``common.tools.average_scores``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch

__all__ = ["MultiViewTestMeter", "IncompleteTestError"]

Scores = torch.Tensor | np.ndarray
MAX_LISTED = 20  # missing views listed in an error message


class IncompleteTestError(RuntimeError):
    """Some videos did not receive all their views."""


def _as_numpy(values: Any, dtype: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu() if dtype == np.float32 else values.detach().cpu()
        values = values.numpy()
    return np.asarray(values, dtype=dtype)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class MultiViewTestMeter:
    """Collects per-view scores by ``(video_index, view_index)`` and aggregates them per video.

    ``num_classes`` is an int, or a ``{head: num_classes}`` dict for multi-head models (EPIC verb/noun); then
    ``update`` takes dicts of scores and labels with the same keys. Memory: one float32 per video, view and class
    (Kinetics-400, 30 views: about 1 GB), because per-view scores are saved for later ensembling.
    """

    def __init__(self, num_videos: int, num_views: int, num_classes: int | Mapping[str, int], *,
                 aggregate: Literal["sum", "mean", "max"] = "sum", score: Literal["logits", "softmax"] = "logits",
                 class_names: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                 labels: Sequence[int] | Mapping[str, Sequence[int]] | None = None) -> None:
        if aggregate not in ("sum", "mean", "max"):
            raise ValueError(f"aggregate must be 'sum', 'mean' or 'max', got {aggregate!r}")
        if score not in ("logits", "softmax"):
            raise ValueError(f"score must be 'logits' or 'softmax', got {score!r}")
        self.multi_head = isinstance(num_classes, Mapping)
        self.num_classes = dict(num_classes) if self.multi_head else {"": int(num_classes)}
        self.num_videos, self.num_views = num_videos, num_views
        self.aggregate, self.score = aggregate, score
        self.class_names = self._per_head(class_names) if class_names is not None else None
        self.scores = {head: np.full((num_videos, num_views, classes), np.nan, dtype=np.float32)
                       for head, classes in self.num_classes.items()}
        self.labels = {head: np.full(num_videos, -1, dtype=np.int64) for head in self.num_classes}
        if labels is not None:
            for head, values in self._per_head(labels).items():
                self.labels[head][:] = np.asarray(values, dtype=np.int64)
        self.received = np.zeros((num_videos, num_views), dtype=bool)
        self.failures: dict[tuple[int, int], str] = {}

    def _per_head(self, value: Any) -> dict[str, Any]:
        if self.multi_head:
            if not isinstance(value, Mapping) or set(value) != set(self.num_classes):
                raise ValueError(f"expected a dict with keys {sorted(self.num_classes)}, got {type(value).__name__}")
            return dict(value)
        return {"": value}

    def update(self, scores: Scores | Mapping[str, Scores], video_index: Scores, view_index: Scores,
               labels: Scores | Mapping[str, Scores] | None = None) -> None:
        """Store ``scores [N, C]`` (a dict of them for multi-head) for the given videos and views."""
        videos, views = _as_numpy(video_index, np.int64), _as_numpy(view_index, np.int64)
        if videos.min(initial=0) < 0 or videos.max(initial=0) >= self.num_videos:
            raise IndexError(f"video_index out of range [0, {self.num_videos}): {videos.tolist()}")
        if views.min(initial=0) < 0 or views.max(initial=0) >= self.num_views:
            raise IndexError(f"view_index out of range [0, {self.num_views}): {views.tolist()}")
        for head, values in self._per_head(scores).items():
            values = _as_numpy(values, np.float32)
            if values.shape != (len(videos), self.num_classes[head]):
                raise ValueError(f"scores{'[' + head + ']' if head else ''} has shape {values.shape}, expected "
                                 f"({len(videos)}, {self.num_classes[head]})")
            self.scores[head][videos, views] = values
        if labels is not None:
            for head, values in self._per_head(labels).items():
                self.labels[head][videos] = _as_numpy(values, np.int64)
        self.received[videos, views] = True

    def report_missing(self, video_index: int, view_index: int, reason: str) -> None:
        """Record that a view could not be produced (a dataset in ``test_failure="report"`` mode)."""
        self.failures[(int(video_index), int(view_index))] = reason

    def state(self) -> dict[str, Any]:
        """Everything needed to merge this meter into another (e.g. on rank 0)."""
        return {"scores": self.scores, "labels": self.labels, "received": self.received, "failures": self.failures}

    def merge(self, state: Mapping[str, Any]) -> None:
        """Add the views of another meter's ``state()``; views present in both keep this meter's copy."""
        other = state["received"] & ~self.received
        for head in self.num_classes:
            self.scores[head][other] = state["scores"][head][other]
            known = state["labels"][head] >= 0
            self.labels[head][known] = state["labels"][head][known]
        self.received |= state["received"]
        self.failures.update(state["failures"])

    def missing_views(self) -> list[tuple[int, int]]:
        """``(video_index, view_index)`` pairs that never received a score."""
        return [tuple(pair) for pair in np.argwhere(~self.received).tolist()]

    def finalize(self, allow_missing: bool = False) -> dict[str, np.ndarray]:
        """Check completeness and return the per-video aggregated scores ``{head: [num_videos, C]}``.

        Raises :class:`IncompleteTestError` listing missing video/view ids (and the reported reasons), unless
        ``allow_missing``: then each video is aggregated over the views it has, and videos without any view are
        excluded from the metrics. Videos whose label was never given are an error either way.
        """
        missing = self.missing_views()
        if missing and not allow_missing:
            listed = ", ".join(f"video {v} view {j}" + (f" ({self.failures[(v, j)]})" if (v, j) in self.failures
                                                        else "") for v, j in missing[:MAX_LISTED])
            more = f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
            raise IncompleteTestError(f"{len(missing)} of {self.received.size} views missing "
                                      f"({len({v for v, _ in missing})} videos): {listed}{more}")
        for head, labels in self.labels.items():
            unlabelled = np.flatnonzero((labels < 0) & self.received.any(axis=1))
            if unlabelled.size:
                raise IncompleteTestError(f"no label{' for ' + head if head else ''} was given for videos "
                                          f"{unlabelled[:MAX_LISTED].tolist()}")
        aggregated = {}
        for head, scores in self.scores.items():
            per_view = _softmax(scores) if self.score == "softmax" else scores
            if self.aggregate == "max":
                total = np.where(self.received[..., None], per_view, -np.inf).max(axis=1)  # [V, C]
                total[~self.received.any(axis=1)] = 0.0  # videos without a view (excluded from the metrics)
            else:
                total = np.where(self.received[..., None], per_view, 0.0).sum(axis=1)  # [V, C]
            if self.aggregate == "mean":
                total = total / np.maximum(self.received.sum(axis=1, keepdims=True), 1)
            aggregated[head] = total.astype(np.float32)
        return aggregated

    def _evaluated_videos(self) -> np.ndarray:
        return np.flatnonzero(self.received.any(axis=1))

    def metrics(self, allow_missing: bool = False) -> dict[str, float]:
        """Top-1, top-5 (percent) and mean class accuracy over videos; for multi-head meters ``<head>_top1`` etc.
        plus ``action_top1`` / ``action_top5`` (every head correct)."""
        aggregated = self.finalize(allow_missing)
        videos = self._evaluated_videos()
        results: dict[str, float] = {}
        correct_at: dict[int, np.ndarray] = {}
        for head, scores in aggregated.items():
            prefix = f"{head}_" if head else ""
            scores, labels = scores[videos], self.labels[head][videos]
            ranking = np.argsort(-scores, axis=1, kind="stable")
            for k in (1, 5):
                hit = (ranking[:, :min(k, scores.shape[1])] == labels[:, None]).any(axis=1)
                correct_at[k] = hit if k not in correct_at else correct_at[k] & hit
                results[f"{prefix}top{k}"] = 100.0 * float(hit.mean()) if hit.size else 0.0
            results[f"{prefix}mean_class_acc"] = self._mean_class_accuracy(ranking[:, 0], labels)
        if self.multi_head:
            for k in (1, 5):
                results[f"action_top{k}"] = 100.0 * float(correct_at[k].mean()) if videos.size else 0.0
        results["num_videos"] = float(videos.size)
        return results

    @staticmethod
    def _mean_class_accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
        """Mean per-class recall over the classes that occur in ``labels`` (TSM/MAS-Net "Class Accuracy"),
        scikit-learn's balanced accuracy."""
        from sklearn.metrics import balanced_accuracy_score

        if labels.size == 0:
            return 0.0
        with warnings.catch_warnings():  # predicted classes absent from the labels are ignored, as intended
            warnings.simplefilter("ignore", UserWarning)
            return 100.0 * float(balanced_accuracy_score(labels, predictions))

    def confusion_matrix(self, head: str | None = None, allow_missing: bool = False) -> np.ndarray:
        """``[C, C]`` int64 counts, rows = true class, columns = predicted class."""
        head = self._head_name(head)
        scores = self.finalize(allow_missing)[head]
        videos = self._evaluated_videos()
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.labels[head][videos], scores[videos].argmax(axis=1),
                                labels=np.arange(self.num_classes[head])).astype(np.int64)

    def _head_name(self, head: str | None) -> str:
        if not self.multi_head:
            return ""
        if head not in self.num_classes:
            raise KeyError(f"head must be one of {sorted(self.num_classes)}, got {head!r}")
        return head

    def save(self, out_dir: str | Path, video_ids: Sequence[str] | None = None,
             allow_missing: bool = False) -> dict[str, Path]:
        """Write ``scores.npz``, ``confusion[_<head>].npy`` and ``confusion[_<head>].png`` into ``out_dir``."""
        from common.plots import save_confusion_png

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.finalize(allow_missing)
        ids = np.asarray([str(i) for i in video_ids] if video_ids is not None else
                         [str(i) for i in range(self.num_videos)])
        if len(ids) != self.num_videos:
            raise ValueError(f"{len(ids)} video ids for {self.num_videos} videos")
        arrays: dict[str, np.ndarray] = {"video_ids": ids, "aggregate": np.asarray(self.aggregate),
                                         "score": np.asarray(self.score)}
        written: dict[str, Path] = {}
        for head in self.num_classes:
            suffix = f"_{head}" if head else ""
            names = (self.class_names or {}).get(head)
            arrays[f"scores{suffix}"] = self.scores[head]
            arrays[f"labels{suffix}"] = self.labels[head]
            arrays[f"class_names{suffix}"] = np.asarray(list(names) if names is not None else
                                                        [str(c) for c in range(self.num_classes[head])])
            matrix = self.confusion_matrix(head or None, allow_missing)
            np.save(out_dir / f"confusion{suffix}.npy", matrix)
            written[f"confusion{suffix}.npy"] = out_dir / f"confusion{suffix}.npy"
            written[f"confusion{suffix}.png"] = save_confusion_png(
                matrix, list(arrays[f"class_names{suffix}"]), out_dir / f"confusion{suffix}.png",
                title=f"confusion matrix{' (' + head + ')' if head else ''}")
        if self.multi_head:
            arrays["heads"] = np.asarray(list(self.num_classes))
        np.savez(out_dir / "scores.npz", **arrays)
        written["scores.npz"] = out_dir / "scores.npz"
        return written
