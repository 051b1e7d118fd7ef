"""Multigrid BatchNorm: PySlowFast's rule, sub-batch BN maths, plain-BN checkpoint keys (quirk Q3), mode switches."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.engine.multigrid_bn import (SubBatchNorm, bn_rule, load_sub_batchnorm_state, set_batchnorm_mode,
                                        sub_batchnorm_state, track_clip_batch)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)
        self.fuse = nn.Module()
        self.fuse.bn_f2s = nn.BatchNorm3d(4)  # a CMDA-style name that PySlowFast's renaming misses (Q3)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.fuse.bn_f2s(self.conv(x)).mean(dim=(2, 3, 4)))


def test_bn_rule_as_pyslowfast():
    assert bn_rule(64, 8) == ("sub", 8)
    assert bn_rule(20, 8) == ("sub", 2)
    assert bn_rule(8, 8) == ("plain", 1)
    assert bn_rule(4, 8) == ("sync", 2)
    assert bn_rule(1, 8) == ("sync", 8)
    assert bn_rule(12, 8) == ("plain", 1)  # int(1.5) = 1 split


def test_sub_batchnorm_equals_plain_bn_per_strided_split():
    torch.manual_seed(0)
    plain = nn.BatchNorm3d(4, momentum=0.3)
    nn.init.uniform_(plain.weight)
    nn.init.uniform_(plain.bias)
    sub = SubBatchNorm(plain, 2)
    x = torch.randn(6, 4, 2, 3, 3)
    out = sub(x)
    references = [nn.BatchNorm3d(4, momentum=0.3) for _ in range(2)]
    for split, reference in enumerate(references):
        reference.load_state_dict(plain.state_dict())
        expected = reference(x[split::2])  # clip j -> split j % 2
        torch.testing.assert_close(out[split::2], expected, rtol=1e-5, atol=1e-5)
    sub.eval()  # aggregation: mean of means; mean of variances + variance of means
    means = torch.stack([r.running_mean for r in references])
    variances = torch.stack([r.running_var for r in references])
    torch.testing.assert_close(plain.running_mean, means.mean(0))
    torch.testing.assert_close(plain.running_var, variances.mean(0) + means.var(0, unbiased=False))
    torch.testing.assert_close(sub(x), F.batch_norm(x, plain.running_mean, plain.running_var, plain.weight,
                                                    plain.bias, False, 0.0, plain.eps))


class Folded(nn.Module):
    """TSN-style: the model folds frames into the batch, [B, 3, T, H, W] -> [B*T, 3, H, W]."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(x.transpose(1, 2).reshape(-1, x.shape[1], *x.shape[3:]))  # [B*T, 3, H, W]


def test_frame_folded_batches_split_by_clip():
    torch.manual_seed(1)
    model = Folded()
    track_clip_batch(model)
    set_batchnorm_mode(model, "sub", 2)
    x = torch.randn(4, 3, 5, 2, 2)
    out = model(x).reshape(4, 5, 3, 2, 2)
    for split in range(2):
        frames = x[split::2].transpose(1, 2).reshape(-1, 3, 2, 2)
        expected = F.batch_norm(frames, None, None, training=True).reshape(2, 5, 3, 2, 2)
        torch.testing.assert_close(out[split::2], expected, rtol=1e-5, atol=1e-5)


def test_sub_bn_checkpoint_loads_strictly_into_plain_model():
    torch.manual_seed(2)
    model = Net()
    keys = list(model.state_dict())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert set_batchnorm_mode(model, "sub", 4) == 1
    assert isinstance(model.fuse.bn_f2s, SubBatchNorm)
    for _ in range(3):
        loss = model(torch.randn(8, 3, 2, 2, 2)).sum()
        loss.backward()
        optimizer.step()  # the optimiser still holds the shared parameters
        optimizer.zero_grad()
    saved = model.state_dict()  # in training mode, in the sub-BN phase
    assert list(saved) == keys
    fresh = Net()
    fresh.load_state_dict(saved, strict=True)
    assert fresh.fuse.bn_f2s.num_batches_tracked.item() == 3
    model.eval()
    fresh.eval()
    x = torch.randn(2, 3, 2, 2, 2)
    torch.testing.assert_close(fresh(x), model(x))
    assert model.fuse.bn_f2s.weight is optimizer.param_groups[0]["params"][2]


def test_mode_switches_keep_parameters_and_restart_from_plain_stats():
    model = Net()
    bn = model.fuse.bn_f2s
    bn.running_mean.fill_(0.5)
    weight = bn.weight
    set_batchnorm_mode(model, "sub", 2)
    assert model.fuse.bn_f2s.weight is weight
    assert torch.equal(model.fuse.bn_f2s.split_mean, torch.full((8,), 0.5))
    model(torch.randn(4, 3, 1, 2, 2))
    set_batchnorm_mode(model, "sub", 4)  # aggregate, then tile the plain statistics
    assert model.fuse.bn_f2s.split_mean.shape == (16,)
    set_batchnorm_mode(model, "sync", 2)  # one process: nothing to synchronise -> plain BN
    assert type(model.fuse.bn_f2s) is nn.BatchNorm3d and model.fuse.bn_f2s.weight is weight
    assert set_batchnorm_mode(model, "sub", 2, include=lambda name, m: "head" in name) == 0


def test_sub_bn_state_round_trip_and_mismatch():
    model = Net()
    set_batchnorm_mode(model, "sub", 2)
    model(torch.randn(4, 3, 1, 2, 2))
    state = sub_batchnorm_state(model)
    other = Net()
    set_batchnorm_mode(other, "sub", 2)
    load_sub_batchnorm_state(other, state)
    assert torch.equal(other.fuse.bn_f2s.split_var, model.fuse.bn_f2s.split_var)
    set_batchnorm_mode(other, "sub", 4)
    with pytest.raises(ValueError, match="BN mode"):
        load_sub_batchnorm_state(other, state)
    model.double()
    assert model.fuse.bn_f2s.split_mean.dtype == torch.float64 and "split_mean" not in dict(model.named_buffers())
    model.float()
    with pytest.raises(ValueError, match="do not split"):
        model(torch.randn(3, 3, 1, 2, 2))
