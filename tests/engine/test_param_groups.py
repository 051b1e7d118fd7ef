"""Parameter groups: TSN/TSM get_optim_policies rules (masnet.md section 5) and no-decay groups."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from common.engine.param_groups import (describe_param_groups, no_decay_param_groups, norm_no_decay_param_groups,
                                       tsn_param_groups)


class TinyTSN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, bias=True)
        self.bn1 = nn.BatchNorm2d(4)
        self.block = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.BatchNorm2d(4), nn.Conv1d(4, 4, 3, bias=True),
                                   nn.BatchNorm3d(4))
        self.new_fc = nn.Linear(4, 7)


def _by_name(groups):
    return {g["name"]: g for g in groups}


def test_tsn_groups_follow_get_optim_policies():
    model = TinyTSN()
    groups = _by_name(tsn_param_groups(model, weight_decay=5e-4))
    assert list(groups) == ["first_conv_weight", "first_conv_bias", "normal_weight", "normal_bias", "BN scale/shift"]
    assert groups["first_conv_weight"]["params"] == [model.stem.weight]
    assert groups["first_conv_bias"]["params"] == [model.stem.bias]
    assert groups["normal_weight"]["params"] == [model.block[0].weight, model.block[2].weight, model.new_fc.weight]
    assert groups["normal_bias"]["params"] == [model.block[2].bias, model.new_fc.bias]
    assert len(groups["BN scale/shift"]["params"]) == 6  # 2 x BN2d + BN3d, weight and bias each
    assert [(g["lr_mult"], g["weight_decay"]) for g in groups.values()] == [
        (1, 5e-4), (2, 0.0), (1, 5e-4), (2, 0.0), (1, 0.0)]
    assert "elements" in describe_param_groups(list(groups.values()))


def test_tsn_partial_bn_and_fc_lr5():
    model = TinyTSN()
    groups = _by_name(tsn_param_groups(model, 1e-4, partial_bn=True, fc_lr5_module="new_fc"))
    bn = groups["BN scale/shift"]["params"]
    assert bn == [model.bn1.weight, model.bn1.bias, model.block[3].weight, model.block[3].bias]  # BN3d kept
    assert groups["lr5_weight"]["lr_mult"] == 5 and groups["lr10_bias"]["lr_mult"] == 10


def test_tsn_refuses_modules_without_a_policy():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LayerNorm(4))
    with pytest.raises(ValueError, match="LayerNorm"):
        tsn_param_groups(model, 1e-4)

    class Loose(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.scale = nn.Parameter(torch.ones(1))

    with pytest.raises(ValueError, match="scale"):
        tsn_param_groups(Loose(), 1e-4)


def test_no_decay_groups():
    class ViTLike(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos_embed = nn.Parameter(torch.zeros(1, 4, 8))
            self.proj = nn.Linear(8, 8)
            self.norm = nn.LayerNorm(8)

        def no_weight_decay(self):
            return {"pos_embed"}

    model = ViTLike()
    groups = _by_name(no_decay_param_groups(model, 0.05, lr_mult=0.5))
    assert groups["decay"]["params"] == [model.proj.weight]
    assert {id(p) for p in groups["no_decay"]["params"]} == {id(model.pos_embed), id(model.proj.bias),
                                                             id(model.norm.weight), id(model.norm.bias)}
    assert groups["decay"]["weight_decay"] == 0.05 and groups["no_decay"]["weight_decay"] == 0.0
    assert groups["decay"]["lr_mult"] == 0.5
    torch.optim.AdamW(list(groups.values()), lr=1e-3)  # accepted by torch as is


def test_norm_no_decay_groups_decay_biases_as_pyslowfast():
    model = nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4), nn.Flatten(), nn.Linear(4, 2))
    groups = _by_name(norm_no_decay_param_groups(model, 1e-4))
    assert {id(p) for p in groups["decay"]["params"]} == {id(model[0].weight), id(model[0].bias),
                                                          id(model[3].weight), id(model[3].bias)}
    assert {id(p) for p in groups["norm"]["params"]} == {id(model[1].weight), id(model[1].bias)}
    assert groups["decay"]["weight_decay"] == 1e-4 and groups["norm"]["weight_decay"] == 0.0
    assert _by_name(norm_no_decay_param_groups(model, 1e-4, 1e-5))["norm"]["weight_decay"] == pytest.approx(1e-5)
