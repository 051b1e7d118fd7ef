"""Accuracy counting, single-view validation, view prediction, parameter and FLOP counts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from common.engine.multiview import MultiViewTestMeter
from common.engine.evaluate import multiview_test, validate
from common.engine.metrics import topk_correct
from common.data.loader import ShardedSampler
from common.engine.model_info import count_flops, count_parameters, describe_model


def test_topk_correct_counts():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.05], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    counts = topk_correct(logits, labels, ks=(1, 2, 5))
    assert {k: int(v) for k, v in counts.items()} == {"top1": 1, "top2": 2, "top5": 3}
    with pytest.raises(TypeError, match="accuracy_fn"):
        topk_correct({"verb": logits}, labels)


class Views(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 6

    def __getitem__(self, index: int) -> dict:
        video, view = divmod(index, 2)
        clip = torch.full((3, 1, 2, 2), video * 10 + view + 1, dtype=torch.uint8)
        return {"clip": clip, "label": video % 2, "video_index": video, "view_index": view}


class MeanModel(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3, 4))  # [B]
        return torch.stack([-mean, mean], dim=1)  # [B, 2]


def _identity(clip, labels, train):
    return clip.float(), labels


def test_validate_and_multiview_test():
    loader = torch.utils.data.DataLoader(Views(), batch_size=4, sampler=ShardedSampler(6, shuffle=False))
    metrics = validate(MeanModel(), loader, _identity, nn.functional.cross_entropy, topk_correct,
                       torch.device("cpu"), show_progress=False)
    # Videos 0, 1, 2 have labels 0, 1, 0; the model predicts class 1 for every clip (all means are positive).
    assert metrics["top1"] == pytest.approx(100 * 2 / 6) and metrics["top5"] == 100.0
    assert metrics["loss"] > 0
    meter = multiview_test(MeanModel(), loader, MultiViewTestMeter(3, 2, 2, aggregate="mean"), _identity,
                           torch.device("cpu"), show_progress=False)
    assert meter.received.all() and meter.labels[""].tolist() == [0, 1, 0]
    assert meter.scores[""][:, :, 1].tolist() == [[1, 2], [11, 12], [21, 22]]
    assert meter.metrics()["top1"] == pytest.approx(100 / 3)


def test_multiview_test_reports_missing_views():
    clip = torch.ones(1, 3, 1, 2, 2, dtype=torch.uint8)
    batches = [{"missing_views": [(0, 1, "v0.mp4: cannot decode")]},  # a batch whose every view failed
               {"clip": clip, "label": torch.tensor([1]), "video_index": torch.tensor([0]),
                "view_index": torch.tensor([0]), "missing_views": []}]
    meter = multiview_test(MeanModel(), batches, MultiViewTestMeter(1, 2, 2), _identity, torch.device("cpu"),
                           show_progress=False)
    assert meter.failures == {(0, 1): "v0.mp4: cannot decode"}
    assert meter.received.tolist() == [[True, False]]


def test_parameter_count():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2, bias=False))
    model[1].weight.requires_grad_(False)
    assert count_parameters(model) == 4 * 3 + 3 + 6
    assert count_parameters(model, trainable_only=True) == 15


def test_flops_convention_and_sdpa_handle():
    conv = nn.Conv3d(3, 8, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)
    # One multiply-add per weight per output position: 8 x 3 x 9 x (2 x 4 x 4).
    assert count_flops(conv, torch.zeros(1, 3, 2, 4, 4)) * 1e9 == pytest.approx(8 * 3 * 9 * 32)

    class Explicit(nn.Module):
        def forward(self, x):
            q = k = v = x
            attention = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1)
            return attention @ v

    class Fused(nn.Module):
        def forward(self, x):
            return nn.functional.scaled_dot_product_attention(x, x, x)

    tokens = torch.zeros(2, 4, 10, 16)  # [B, heads, L, D]
    expected = 2 * 4 * 10 * 10 * 16 * 2  # QK^T plus attention @ V
    assert count_flops(Explicit(), tokens) * 1e9 == pytest.approx(expected)
    assert count_flops(Fused(), tokens) * 1e9 == pytest.approx(expected)
    assert "GFLOPs per clip" in describe_model(conv, torch.zeros(2, 3, 2, 4, 4))
