"""Precise BatchNorm statistics: recompute every BN's running mean and variance on N training batches.

The running statistics a BN layer keeps during training are an exponential average over weights that kept
changing; PySlowFast (``BN.USE_PRECISE_STATS``, fvcore's ``update_bn_stats``) replaces them, before each
checkpoint and evaluation, by the plain average of the per-batch statistics of the *current* weights over
``NUM_BATCHES_PRECISE`` training batches. :func:`update_bn_stats` does the same:

* only BN layers in training mode are updated (a TSN partial-BN model keeps its frozen layers as they are);
* per batch, each layer's batch mean and unbiased batch variance are averaged with equal weight over the batches,
  as fvcore does (the spread of the means between batches is not added to the variance);
* under ``torch.distributed`` every rank averages its own batches, then the ranks' averages are averaged
  (one ``all_reduce``), so all ranks end with the same statistics: the average over every batch of the job when
  the ranks see equally many batches. PySlowFast keeps each rank's own statistics and saves rank 0's.

Call it on the bare model (not the DDP wrapper: no gradients flow, and DDP's buffer broadcast would overwrite
the ranks' statistics); with SyncBatchNorm every rank must run the same number of batches.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from common.engine.batch import Preprocess, move_to_device

__all__ = ["bn_layers_to_update", "clip_inputs", "update_bn_stats"]


def bn_layers_to_update(model: nn.Module) -> list[_BatchNorm]:
    """The BN layers (1d/2d/3d/Sync) of ``model`` in training mode that track running statistics."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.training and m.track_running_stats]


def clip_inputs(loader: Iterable[dict[str, Any]], preprocess: Preprocess, device: torch.device) -> Iterator[Any]:
    """Model inputs from a training loader's batches (``{"clip": uint8, "label": ...}``): moved to ``device`` and
    normalised by ``preprocess`` with ``train=False``, so mixup and device-side augmentations are not applied
    (the loader's own augmentation, crops and flips, is)."""
    for batch in loader:
        batch = move_to_device(batch, device)
        inputs, _ = preprocess(batch["clip"], batch["label"], False)
        yield inputs


@torch.no_grad()
def update_bn_stats(model: nn.Module, inputs: Iterable[Any], num_batches: int = 200,
                    forward: Callable[[nn.Module, Any], Any] | None = None,
                    average_across_ranks: bool = True) -> int:
    """Replace the running statistics of ``model``'s BN layers by their average over ``num_batches`` batches.

    Args:
        model: the bare model; put in training mode for the passes, then restored to its previous mode.
        inputs: model inputs, one item per batch (e.g. :func:`clip_inputs` of a training loader); at most
            ``num_batches`` are read. PySlowFast uses ``min(NUM_BATCHES_PRECISE, len(train_loader))``.
        num_batches: how many batches to average over.
        forward: ``(model, item) -> anything``; default ``model(item)``.
        average_across_ranks: average the result over the ranks of the default process group, if one exists.

    Returns:
        The number of batches this rank used. When no rank had a batch, every statistic is left untouched.
    """
    if num_batches < 1:
        raise ValueError(f"num_batches must be >= 1, got {num_batches}")
    was_training = model.training
    model.train()
    layers = bn_layers_to_update(model)
    momenta = [bn.momentum for bn in layers]
    means = [torch.zeros_like(bn.running_mean) for bn in layers]
    variances = [torch.zeros_like(bn.running_var) for bn in layers]
    used = 0
    try:
        for bn in layers:
            bn.momentum = 1.0  # running stats := this batch's stats
        for used, item in enumerate(itertools.islice(inputs, num_batches), start=1):
            model(item) if forward is None else forward(model, item)
            for bn, mean, variance in zip(layers, means, variances):
                mean += (bn.running_mean - mean) / used  # running average over batches
                variance += (bn.running_var - variance) / used
    finally:
        for bn, momentum in zip(layers, momenta):
            bn.momentum = momentum
    update = used > 0
    distributed = average_across_ranks and dist.is_available() and dist.is_initialized()
    if distributed and layers:
        flat = torch.cat([torch.cat((m, v)) for m, v in zip(means, variances)]).float()
        contributed = torch.tensor([float(used > 0)], device=flat.device)
        flat = torch.cat((flat * contributed, contributed))  # ranks without batches add nothing
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        ranks_with_batches = flat[-1].item()
        update = ranks_with_batches > 0
        if update:
            offset = 0
            for mean, variance in zip(means, variances):
                n = mean.numel()
                mean.copy_(flat[offset:offset + n] / ranks_with_batches)
                variance.copy_(flat[offset + n:offset + 2 * n] / ranks_with_batches)
                offset += 2 * n
    if update:
        for bn, mean, variance in zip(layers, means, variances):
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(variance)
    model.train(was_training)
    return used
