"""MultiViewTestMeter: aggregation rules, completeness, metrics, DDP-style merging and the saved files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from common.engine.multiview import IncompleteTestError, MultiViewTestMeter


def filled_meter(**kwargs) -> MultiViewTestMeter:
    """3 videos x 2 views x 3 classes with hand-picked logits."""
    meter = MultiViewTestMeter(3, 2, 3, labels=[0, 1, 2], **kwargs)
    scores = torch.tensor([[4.0, 0.0, 0.0], [0.0, 1.0, 0.0],     # video 0 views 0, 1
                           [0.0, 3.0, 0.0], [0.0, 3.0, 0.0],     # video 1
                           [5.0, 0.0, 0.0], [0.0, 0.0, 4.9]])    # video 2: sums tie-break towards class 0
    meter.update(scores, torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0, 1, 0, 1, 0, 1]))
    return meter


def test_sum_and_mean_of_logits() -> None:
    summed = filled_meter(aggregate="sum").finalize()[""]
    np.testing.assert_allclose(summed[0], [4.0, 1.0, 0.0])
    mean = filled_meter(aggregate="mean").finalize()[""]
    np.testing.assert_allclose(mean[2], [2.5, 0.0, 2.45])
    metrics = filled_meter().metrics()
    assert metrics["top1"] == pytest.approx(200 / 3)  # videos 0 and 1 right, video 2 predicted class 0
    assert metrics["top5"] == 100.0  # k is capped at the number of classes
    assert metrics["mean_class_acc"] == pytest.approx(200 / 3)


def test_softmax_before_aggregation_changes_the_vote() -> None:
    # video 2: softmax(5,0,0) + softmax(0,0,4.9): class 0 gets 0.987 + 0.007, class 2 gets 0.007 + 0.985
    meter = filled_meter(score="softmax")
    aggregated = meter.finalize()[""]
    np.testing.assert_allclose(aggregated.sum(axis=1), [2.0, 2.0, 2.0], rtol=1e-6)
    assert aggregated[2].argmax() == 0
    logits = filled_meter(score="logits")
    logits.update(torch.tensor([[0.0, 0.0, 9.0]]), torch.tensor([2]), torch.tensor([1]))  # a repeated view replaces
    assert logits.finalize()[""][2].argmax() == 2


def test_missing_views_are_listed() -> None:
    meter = MultiViewTestMeter(3, 2, 3, labels=[0, 1, 2])
    meter.update(torch.zeros(2, 3), torch.tensor([0, 1]), torch.tensor([0, 1]))
    meter.report_missing(2, 1, "clip.mp4: truncated")
    with pytest.raises(IncompleteTestError, match=r"4 of 6 views missing") as error:
        meter.finalize()
    assert "video 0 view 1" in str(error.value) and "clip.mp4: truncated" in str(error.value)
    partial = meter.metrics(allow_missing=True)
    assert partial["num_videos"] == 2.0


def test_merge_of_rank_states_equals_single_meter() -> None:
    reference = filled_meter()
    ranks = [MultiViewTestMeter(3, 2, 3, labels=[0, 1, 2]) for _ in range(2)]
    scores = np.zeros((3, 2, 3), dtype=np.float32)
    scores[...] = reference.scores[""]
    for position, (video, view) in enumerate([(v, j) for v in range(3) for j in range(2)]):
        ranks[position % 2].update(scores[video, view][None], [video], [view])
    ranks[0].merge(ranks[1].state())
    np.testing.assert_array_equal(ranks[0].finalize()[""], reference.finalize()[""])
    assert ranks[0].metrics() == reference.metrics()


def test_confusion_matrix_and_saved_files(tmp_path) -> None:
    meter = filled_meter()
    matrix = meter.confusion_matrix()
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    written = meter.save(tmp_path, ["a", "b", "c"])
    data = np.load(written["scores.npz"])
    assert data["scores"].shape == (3, 2, 3) and data["scores"].dtype == np.float32
    np.testing.assert_array_equal(data["labels"], [0, 1, 2])
    assert data["video_ids"].tolist() == ["a", "b", "c"] and data["class_names"].tolist() == ["0", "1", "2"]
    np.testing.assert_array_equal(np.load(tmp_path / "confusion.npy"), matrix)
    assert (tmp_path / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_epic_verb_noun_action_accuracy() -> None:
    meter = MultiViewTestMeter(3, 1, {"verb": 3, "noun": 4}, aggregate="sum", score="softmax")
    verb = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]])
    noun = torch.tensor([[3.0, 0, 0, 0], [3.0, 0, 0, 0], [0, 0, 0, 3.0]])
    meter.update({"verb": verb, "noun": noun}, [0, 1, 2], [0, 0, 0],
                 labels={"verb": torch.tensor([0, 1, 0]), "noun": torch.tensor([0, 1, 3])})
    metrics = meter.metrics()
    assert metrics["verb_top1"] == pytest.approx(200 / 3) and metrics["noun_top1"] == pytest.approx(200 / 3)
    assert metrics["action_top1"] == pytest.approx(100 / 3)  # only video 0 has both right
    assert metrics["action_top5"] == 100.0
    with pytest.raises(ValueError, match="expected a dict"):
        meter.update(verb, [0], [0])


def test_bad_indices_and_shapes_are_rejected() -> None:
    meter = MultiViewTestMeter(2, 2, 3)
    with pytest.raises(IndexError, match="video_index"):
        meter.update(torch.zeros(1, 3), [2], [0])
    with pytest.raises(ValueError, match="shape"):
        meter.update(torch.zeros(1, 4), [0], [0])
    meter.update(torch.zeros(2, 3), [0, 1], [0, 0])
    meter.update(torch.zeros(2, 3), [0, 1], [1, 1])
    with pytest.raises(IncompleteTestError, match="no label"):
        meter.finalize()


def test_max_over_views(tmp_path) -> None:
    maximum = filled_meter(aggregate="max").finalize()[""]
    np.testing.assert_allclose(maximum, [[4.0, 1.0, 0.0], [0.0, 3.0, 0.0], [5.0, 0.0, 4.9]])
    # Negative logits: max picks class 1 (-1 vs -0.5 ...), the sum class 0 (-3 vs -3.5).
    meter = MultiViewTestMeter(2, 2, 2, aggregate="max", labels=[1, 0])
    meter.update(torch.tensor([[-1.0, -3.0], [-2.0, -0.5]]), torch.tensor([0, 0]), torch.tensor([0, 1]))
    np.testing.assert_allclose(meter.finalize(allow_missing=True)[""], [[-1.0, -0.5], [0.0, 0.0]])
    assert meter.metrics(allow_missing=True)["top1"] == 100.0  # video 1 has no view and is left out
    with pytest.raises(ValueError, match="'sum', 'mean' or 'max'"):
        MultiViewTestMeter(1, 1, 2, aggregate="median")
    # The saved scores keep the rule: average_scores re-aggregates them with max.
    from common.tools.average_scores import load_scores

    meter.save(tmp_path, allow_missing=True)
    loaded = load_scores(tmp_path / "scores.npz", allow_missing=True)
    np.testing.assert_allclose(loaded.scores[""][0], [-1.0, -0.5])
