"""What the train loop and the test path both measure with: the AMP context, top-k counts and metric sums.

* ``AMP_DTYPES`` maps ``--amp {off,fp16,bf16}`` to a dtype; :func:`autocast_context` is ``torch.autocast`` for it
  (a no-op when off).
* :func:`topk_correct`: correct-prediction counts of single-head logits, the default ``accuracy_fn``.
* :class:`MetricSums`: sample-weighted loss and counts kept on the device, all-reduced over ranks on
  :meth:`~MetricSums.summary`.
"""
from __future__ import annotations

import contextlib

import torch

from common.distributed import all_reduce_sum

__all__ = ["AMP_DTYPES", "autocast_context", "topk_correct", "MetricSums"]

AMP_DTYPES = {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def autocast_context(device: torch.device, amp_dtype: torch.dtype | None):
    """``torch.autocast`` for ``amp_dtype`` on ``device``, or a no-op when AMP is off."""
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[str, torch.Tensor]:
    """Correct-prediction counts ``{"top1": n, "top5": n}`` for single-head logits ``[B, K]`` and int labels ``[B]``.

    ``k`` larger than the number of classes counts as all classes. Multi-head models pass their own function
    with the same contract (e.g. verb / noun / action counts).
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError("topk_correct handles single-head logits; pass an accuracy_fn for dict outputs")
    max_k = min(max(ks), logits.shape[1])
    top = logits.topk(max_k, dim=1).indices  # [B, max_k]
    hits = top.eq(labels.view(-1, 1))  # [B, max_k]
    return {f"top{k}": hits[:, : min(k, max_k)].any(dim=1).sum() for k in ks}


class MetricSums:
    """Sample-weighted loss and correct counts kept on the device (no per-step host sync); :meth:`summary`
    all-reduces them over ranks into the mean loss and accuracies in percent."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.loss_sum = torch.zeros((), device=device)
        self.correct: dict[str, torch.Tensor] = {}
        self.samples = 0

    def add(self, loss: torch.Tensor, correct: dict[str, torch.Tensor], samples: int) -> None:
        self.loss_sum += loss.detach().float() * samples
        for name, count in correct.items():
            self.correct[name] = self.correct.get(name, 0) + count.float()
        self.samples += samples

    def summary(self) -> dict[str, float]:
        names = sorted(self.correct)
        packed = torch.stack([self.loss_sum, *[self.correct[n] for n in names],
                              torch.tensor(float(self.samples), device=self.device)])
        packed = all_reduce_sum(packed).cpu()
        total = packed[-1].item()
        if total == 0:
            raise ValueError("no samples were seen (empty loader?)")
        metrics = {"loss": packed[0].item() / total}
        metrics.update({name: 100.0 * packed[i + 1].item() / total for i, name in enumerate(names)})
        return metrics
