"""Single-view validation during training and multi-view testing for ``test.py``, both DDP-aware.

* :func:`validate`: one view per video (the val loader's), loss and accuracy summed on every rank and
  all-reduced, so the numbers are those of the whole set whatever the number of processes (the loader from
  ``common.data.loader.build_loader(train=False)`` gives every sample to exactly one rank, no padding duplicates).
* :func:`multiview_test`: every rank scores its share of the test views into a
  ``common.engine.multiview.MultiViewTestMeter`` (keyed by ``(video_index, view_index)``); the meters are gathered
  to rank 0.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn
from tqdm import tqdm

from common.distributed import gather_to_main, get_rank, is_main_process
from common.engine.batch import Preprocess, move_to_device
from common.engine.metrics import MetricSums, autocast_context

if TYPE_CHECKING:
    from common.engine.multiview import MultiViewTestMeter


@torch.no_grad()
def validate(model: nn.Module, loader: torch.utils.data.DataLoader, preprocess: Preprocess,
             loss_fn: Callable[[Any, Any], torch.Tensor],
             accuracy_fn: Callable[[Any, Any], dict[str, torch.Tensor]], device: torch.device,
             amp_dtype: torch.dtype | None = None, show_progress: bool = True) -> dict[str, float]:
    """Mean loss and accuracies (%) over the whole validation set (all ranks together)."""
    was_training = model.training
    model.eval()
    sums = MetricSums(device)
    for batch in tqdm(loader, desc="validate", leave=False, disable=not (show_progress and is_main_process())):
        clip = batch["clip"].to(device, non_blocking=True)
        labels = move_to_device(batch["label"], device)
        inputs, targets = preprocess(clip, labels, False)
        with autocast_context(device, amp_dtype):
            logits = model(inputs)
            loss = loss_fn(logits, targets)
        sums.add(loss, accuracy_fn(logits, labels), clip.shape[0])
    model.train(was_training)
    return sums.summary()


@torch.no_grad()
def multiview_test(model: nn.Module, loader: torch.utils.data.DataLoader, meter: "MultiViewTestMeter",
                   preprocess: Preprocess, device: torch.device, amp_dtype: torch.dtype | None = None,
                   show_progress: bool = True) -> "MultiViewTestMeter":
    """Score every test view into ``meter`` (a ``common.engine.multiview.MultiViewTestMeter``).

    Each rank scores its share of the views (``common.data.loader.build_loader(..., train=False)``);
    the meters are then gathered to rank 0, which alone holds the complete result (call ``finalize`` / ``metrics``
    / ``save`` there). Scores enter the meter as float32 logits; the meter applies its softmax / sum / mean rule.
    Batches must carry ``video_index`` and ``view_index`` (the test dataset's items do); views the dataset
    reported unreadable (``batch["missing_views"]``) go to ``meter.report_missing``.
    """
    was_training = model.training
    model.eval()
    for batch in tqdm(loader, desc="test views", disable=not (show_progress and is_main_process())):
        for video_index, view_index, reason in batch.get("missing_views", ()):
            meter.report_missing(video_index, view_index, reason)  # unreadable views (test_failure="report")
        if "clip" not in batch:
            continue
        if "video_index" not in batch or "view_index" not in batch:
            raise KeyError("multi-view testing needs batches with 'video_index' and 'view_index' (use the test "
                           "dataset, which expands every video into its views)")
        inputs, _ = preprocess(batch["clip"].to(device, non_blocking=True), None, False)
        with autocast_context(device, amp_dtype):
            logits = model(inputs)
        meter.update(_to_float32_cpu(logits), batch["video_index"], batch["view_index"], batch["label"])
    model.train(was_training)
    states = gather_to_main(meter.state())
    if states is not None:
        for rank, state in enumerate(states):
            if rank != get_rank():
                meter.merge(state)
    return meter


def _to_float32_cpu(logits: Any) -> Any:
    if isinstance(logits, dict):
        return {head: value.detach().float().cpu() for head, value in logits.items()}
    return logits.detach().float().cpu()
