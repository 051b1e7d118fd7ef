"""MGMA model: sizes and FLOPs against the reference's, the module's formulas, insertion rule, errors, batch
independence, and checkpoint conversion from the reference's key layout (shared/specs/mgma.md section 3)."""
from __future__ import annotations

import functools
import re
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.engine.model_info import count_flops, count_parameters
from common.variants import UnknownVariantError
from projects.mgma import VARIANTS, build_model, convert_reference_state_dict
from projects.mgma.model import (MGMA, AttentionBranch, MGMAConfig, MGMAResNet, _Classifier, attention_maps,
                                 channel_splits, fully_convolutional_scores, has_mgma, shuffle_channels)


def _meta_model(variant: str, **overrides) -> nn.Module:
    """A full-size model without storage or initialisation (shapes only), cached: counting needs nothing else."""
    return _cached_meta_model(variant, tuple(sorted(overrides.items())))


@functools.lru_cache(maxsize=None)
def _cached_meta_model(variant: str, overrides: tuple) -> nn.Module:
    with torch.device("meta"), mock.patch.object(_Classifier, "_init_weights", lambda self: None):
        return build_model(variant, **dict(overrides))


def _formula_gflops(model: nn.Module, shape: tuple[int, ...]) -> float:
    """fvcore's count written out: conv out * (in / groups) * kernel volume, eval BN 2 per element, linear out * in.
    Runs on meta tensors (fvcore's tracer does not), so full-size models cost nothing; checked against fvcore
    below."""
    total = 0

    def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv3d):
            total += output.numel() * module.in_channels // module.groups * module.weight[0, 0].numel()
        elif isinstance(module, nn.BatchNorm3d):
            total += 2 * output.numel()
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv3d, nn.BatchNorm3d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(shape, device=next(model.parameters()).device))
    for handle in handles:
        handle.remove()
    return total / 1e9


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics / affine weights and a larger classifier, so outputs are not near-constant."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)
    model.fc.weight.data.normal_(0, 0.1, generator=generator)
    return model


# ---------------------------------------------------------------------------------------------- sizes and FLOPs

@pytest.mark.parametrize("variant", [v for v in VARIANTS if VARIANTS[v].paper])
def test_paper_variants_match_reference_parameters_and_gflops(variant: str) -> None:  # shares builds with below
    entry = VARIANTS[variant]
    model = _meta_model(variant)
    assert count_parameters(model) == entry.reference_params
    assert _formula_gflops(model, (1, *entry.input_shape)) == pytest.approx(entry.reference_gflops, abs=6e-4)


# Rows of the spec's section 3 tables, built by overrides: (variant, overrides, params, GFLOPs at 8x112, at 8x128).
_SPEC_ROWS = [
    ("r3d34", {"se_ratio": 0.0}, 63_527_717, 37.722, 49.269),
    ("r3d34", {}, 66_050_213, 37.724, 49.272),
    ("mgma_r3d34", {}, 65_865_125, 38.154, 49.834),
    ("mgma_r3d34", {"se_ratio": 0.0}, 64_099_621, 38.152, 49.832),
    ("mgma_r3d34", {"num_groups": 16}, 65_582_501, 37.942, 49.557),
    ("mgma_r3d34", {"mgma_type": "TA"}, 65_437_861, 37.833, 49.414),
    ("mgma_r3d34", {"mgma_type": "SA"}, 65_720_485, 38.045, 49.691),
    ("mgma_r3d34", {"mgma_type": "UA"}, 66_568_357, 38.681, 50.521),
    ("mgma_r3d34", {"num_groups": 1}, 69_821_861, 41.121, 53.709),
    ("mgma_r3d18", {}, 34_574_373, 20.488, 26.760),
    ("r3d50", {}, 86_637_605, 27.489, 35.893),
    ("mgma_r3d50", {}, 83_636_261, 34.287, 44.774),
    ("shufflenetv2_3d", {}, 5_655_509, 1.427, 1.865),
    ("mgma_shufflenetv2", {}, 8_441_029, 3.264, 4.263),
    ("mgma_shufflenetv2", {"mgma_type": "TA"}, 6_356_037, 1.890, 2.469),
    ("mgma_shufflenetv2", {"mgma_type": "SA"}, 7_740_501, 2.801, 3.659),
    ("mgma_shufflenetv2", {"mgma_type": "UA"}, 11_893_893, 5.534, 7.229),
]


@pytest.mark.parametrize("variant, overrides, params, gflops_112, gflops_128", _SPEC_ROWS)
def test_spec_table_rows(variant: str, overrides: dict, params: int, gflops_112: float, gflops_128: float) -> None:
    model = _meta_model(variant, **overrides)
    assert count_parameters(model) == params
    assert _formula_gflops(model, (1, 3, 8, 112, 112)) == pytest.approx(gflops_112, abs=6e-4)
    assert _formula_gflops(model, (1, 3, 8, 128, 128)) == pytest.approx(gflops_128, abs=6e-4)


@pytest.mark.parametrize("variant, overrides, params", [
    ("mgma_r3d34", {"interval": 2}, 65_937_573),
    ("mgma_r3d34", {"num_groups": 3}, 66_807_389),  # non-divisible: 43-channel groups plus a remainder, per stage
    ("mgma_r3d34", {"use_shuffle": False}, 65_865_125),
    ("mgma_shufflenetv2", {"interval": 2}, 7_273_077),
    ("mgma_shufflenetv2", {"num_groups": 16}, 7_066_213),
])
def test_spec_single_build_parameter_counts(variant: str, overrides: dict, params: int) -> None:
    assert count_parameters(_meta_model(variant, **overrides)) == params


@pytest.mark.parametrize("variant, size", [("mgma_tiny", 64), ("mgma_tiny", 80), ("mgma_shufflenet_tiny", 80)])
def test_formula_equals_fvcore(variant: str, size: int) -> None:
    model = build_model(variant)
    assert _formula_gflops(model, (1, 3, 8, size, size)) == pytest.approx(
        count_flops(model, torch.zeros(1, 3, 8, size, size)), rel=1e-9)


@pytest.mark.slow
def test_fvcore_gflops_of_mgma_r3d34_at_full_size() -> None:
    assert count_flops(build_model("mgma_r3d34"), torch.zeros(1, 3, 8, 112, 112)) == pytest.approx(38.154, abs=6e-4)


def test_variant_table() -> None:
    assert [v for v in VARIANTS if VARIANTS[v].paper] == [
        "mgma_r3d18", "mgma_r3d34", "mgma_r3d50", "mgma_r2plus1d34", "mgma_shufflenetv2",
        "r3d18", "r3d34", "r3d50", "r2plus1d34", "shufflenetv2_3d"]
    for entry in VARIANTS.values():
        assert entry.mean == (0.45,) * 3 and entry.std == (0.225,) * 3
        assert entry.paper == (entry.reference_params is not None)
    with pytest.raises(UnknownVariantError, match="mgma_r3d34"):
        build_model("mgma_r3d35")


# ---------------------------------------------------------------------------------------------- module formulas

def test_channel_shuffle_and_uneven_split() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1, 1).repeat(2, 1, 1, 1, 1)
    assert shuffle_channels(x)[1].flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    clips = torch.randn(2, 8, 2, 3, 3)
    last = shuffle_channels(clips.contiguous(memory_format=torch.channels_last_3d))
    assert last.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(last, shuffle_channels(clips), rtol=0, atol=0)
    assert channel_splits(244, 8) == [(217, 7), (27, 1)]
    assert channel_splits(488, 8) == [(488, 8)]
    assert channel_splits(20, 8) == [(18, 6), (2, 1)]
    with pytest.raises(ValueError, match="num_groups"):
        channel_splits(8, 9)


def test_temporal_branch_smooths_by_max_pool_and_repeat() -> None:
    branch = AttentionBranch("T", 1, 1).eval()
    nn.init.zeros_(branch.convs[0].weight)
    branch.convs[0].weight.data[0, 0, 1] = 1.0  # the identity tap: the branch output shows the smoothing
    branch.bn.running_var.fill_(1 - branch.bn.eps)  # BN is the identity
    frames = torch.arange(8.0).view(1, 1, 8, 1, 1) / 10
    smoothed = torch.logit(branch(frames)).flatten() * 10
    torch.testing.assert_close(smoothed, torch.tensor([1.0, 1, 3, 3, 5, 5, 7, 7]), rtol=1e-4, atol=1e-4)


def test_uneven_mgma_equals_per_split_reference_computation() -> None:
    torch.manual_seed(0)
    mgma = _randomise_bn_only(MGMA(20, "TSA", num_groups=8)).eval()
    x = torch.randn(2, 20, 4, 6, 6)
    expected = 0
    for kind, pool in (("temporal", ((3, 1, 1), (2, 1, 1), (1, 0, 0), (2, 1, 1))),
                       ("spatial", ((1, 3, 3), (1, 2, 2), (0, 1, 1), (1, 2, 2)))):
        branch = mgma.branches[kind]
        outs = []
        for part, conv, bn_slice in zip(x.split([18, 2], 1), branch.convs, (slice(0, 18), slice(18, 20))):
            pooled = F.interpolate(F.max_pool3d(part, *pool[:3]), scale_factor=pool[3], mode="nearest")
            conv_out = F.conv3d(pooled, conv.weight, padding=conv.padding, groups=conv.groups)
            bn = branch.bn
            outs.append(torch.sigmoid(F.batch_norm(conv_out, bn.running_mean[bn_slice], bn.running_var[bn_slice],
                                                   bn.weight[bn_slice], bn.bias[bn_slice], eps=bn.eps)))
        expected = expected + torch.cat(outs, 1)
    assert [c.groups for c in mgma.branches["temporal"].convs] == [6, 1]
    torch.testing.assert_close(mgma(x), expected)


def _randomise_bn_only(module: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(3)
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm3d):
            bn.running_mean.normal_(0, 0.1, generator=generator)
            bn.weight.data.uniform_(0.5, 1.5, generator=generator)
    return module


def test_mgma_unit_weights_its_output_by_one_plus_attention() -> None:
    model = _randomise(build_model("mgma_tiny")).eval()
    unit = model.layer2[1]
    x = torch.randn(2, 32, 4, 8, 8)
    shuffled = shuffle_channels(x)
    plain = F.relu(unit.residual(shuffled) + shuffled)
    attention = unit.mgma(shuffled)
    assert attention.shape == x.shape and 0 < attention.min() and attention.max() < 2
    torch.testing.assert_close(unit(x), plain * (1 + attention))


def test_types_build_their_branches() -> None:
    branches = {t: sorted(MGMA(16, t, 4).branches) for t in ("TSA", "TA", "SA", "UA")}
    assert branches == {"TSA": ["spatial", "temporal"], "TA": ["temporal"], "SA": ["spatial"], "UA": ["unified"]}
    with pytest.raises(ValueError, match="unknown mgma_type 'TS'.*TSA, TA, SA, UA"):
        build_model("mgma_tiny", mgma_type="TS")


# ---------------------------------------------------------------------------------------------- insertion rule

def _mgma_units(model: nn.Module) -> list[str]:
    return [name.removesuffix(".mgma") for name, m in model.named_modules() if isinstance(m, MGMA)]


def test_insertion_rule() -> None:
    assert _mgma_units(_meta_model("mgma_r3d34")) == [f"layer2.{i}" for i in (1, 2, 3)] + [
        f"layer3.{i}" for i in range(1, 6)]
    assert _mgma_units(_meta_model("mgma_r3d18")) == ["layer2.1", "layer3.1"]
    assert _mgma_units(_meta_model("mgma_r3d34", interval=2)) == ["layer2.1", "layer2.3", "layer3.1", "layer3.3",
                                                                  "layer3.5"]
    assert _mgma_units(_meta_model("mgma_shufflenetv2")) == [f"stage0.{i}" for i in (1, 2, 3)] + [
        f"stage1.{i}" for i in range(1, 8)]  # the reference's features.1-3 and features.5-11
    assert _mgma_units(_meta_model("r3d34")) == []
    se_units = [name.removesuffix(".se") for name, m in _meta_model("mgma_r3d18").named_modules()
                if name.endswith(".se")]
    assert se_units == ["layer1.0", "layer1.1", "layer2.0", "layer3.0", "layer4.0", "layer4.1"]
    assert not [m for m in _meta_model("r3d18", se_ratio=0.0).modules() if type(m).__name__ == "SqueezeExcite"]
    assert [has_mgma(True, i, 1, True) for i in range(3)] == [True, True, True]
    assert [has_mgma(True, i, 3, True) for i in range(5)] == [False, True, False, False, True]


def test_use_first_unit_refuses_with_interval_one_and_builds_otherwise() -> None:
    with pytest.raises(ValueError, match="use_first_unit=True with interval=1"):
        build_model("mgma_tiny", use_first_unit=True)
    with pytest.raises(ValueError, match="use_first_unit=True with interval=1"):
        build_model("mgma_shufflenet_tiny", use_first_unit=True)
    assert _mgma_units(build_model("mgma_tiny", use_first_unit=True, interval=2)) == ["layer2.1", "layer3.1"]


def test_override_errors() -> None:
    with pytest.raises(TypeError, match="unknown options.*groups"):
        build_model("mgma_tiny", groups=4)
    with pytest.raises(ValueError, match="r3d34 is a baseline without MGMA"):
        build_model("r3d34", num_groups=4)
    with pytest.raises(ValueError, match="no SE"):
        build_model("mgma_shufflenet_tiny", se_ratio=1.0)
    with pytest.raises(ValueError, match="num_frames"):
        build_model("mgma_tiny", num_frames=12)


# ---------------------------------------------------------------------------------------------- forward

@pytest.mark.parametrize("variant", ["mgma_tiny", "mgma_shufflenet_tiny"])
def test_shapes_in_train_and_eval_and_fully_convolutional(variant: str) -> None:
    model = build_model(variant, 5)
    assert model(torch.randn(2, 3, 8, 64, 64)).shape == (2, 5)
    model.eval()
    assert model.position_logits(torch.randn(1, 3, 8, 80, 80)).shape == (1, 1, 2, 2, 5)  # 5x5 map, 4x4 pool
    assert model.position_logits(torch.randn(1, 3, 16, 64, 64)).shape == (1, 2, 1, 1, 5)  # built for 8 frames
    clips = torch.randn(3, 3, 8, 80, 80)
    scores = fully_convolutional_scores(model, clips)
    torch.testing.assert_close(scores.sum(-1), torch.ones(3))
    torch.testing.assert_close(model(clips), model.position_logits(clips).mean((1, 2, 3)))
    model.position_pooling = "softmax"  # the reference's eval rule, as test.py uses it
    torch.testing.assert_close(model(clips).softmax(-1), scores)
    assert build_model(variant, 5, num_frames=16).position_logits(torch.randn(1, 3, 16, 64, 64)).shape[1] == 1


def test_size_constraint_errors_name_the_constraint() -> None:
    model = build_model("mgma_tiny")
    with pytest.raises(ValueError, match="T to be a multiple of 8"):
        model(torch.randn(1, 3, 12, 64, 64))
    with pytest.raises(ValueError, match="multiples of 16"):
        model(torch.randn(1, 3, 8, 72, 72))
    with pytest.raises(ValueError, match="smaller than the head's 1x4x4 average pool"):
        model(torch.randn(1, 3, 8, 48, 48))
    baseline = MGMAResNet(MGMAConfig(blocks=(1, 1, 1, 1), widths=(8, 8, 16, 16), stem_width=8, head_kernel=4,
                                     mgma_type=None), 3)
    assert baseline(torch.randn(1, 3, 12, 72, 72)).shape == (1, 3)  # no MGMA: only the head's size limit
    with pytest.raises(ValueError, match=r"clips \[B, 3, T, H, W\]"):
        baseline(torch.randn(1, 8, 64, 64))


@pytest.mark.parametrize("variant", ["mgma_tiny", "mgma_shufflenet_tiny"])
def test_channels_last_gives_the_same_logits(variant: str) -> None:
    torch.manual_seed(0)
    model = _randomise(build_model(variant)).eval()
    clips = torch.randn(2, 3, 8, 64, 64)
    with torch.no_grad():
        expected = model(clips)
        for param in model.parameters():
            if param.dim() == 5:
                param.data = param.data.contiguous(memory_format=torch.channels_last_3d)
        torch.testing.assert_close(model(clips.contiguous(memory_format=torch.channels_last_3d)), expected,
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", ["mgma_tiny", "mgma_shufflenet_tiny"])
def test_batch_of_two_equals_each_clip_alone(variant: str) -> None:
    torch.manual_seed(0)
    model = _randomise(build_model(variant)).eval()
    clips = torch.randn(2, 3, 8, 64, 64)
    with torch.no_grad():
        together = model(clips)
        alone = torch.cat([model(clips[i:i + 1]) for i in range(2)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_attention_maps() -> None:
    model = build_model("mgma_tiny").eval()
    maps = attention_maps(model, torch.randn(1, 3, 8, 64, 64))
    assert list(maps) == ["layer2.1", "layer3.1"]
    assert maps["layer2.1"]["temporal"].shape == (1, 32, 4, 16, 16)
    torch.testing.assert_close(maps["layer3.1"]["combined"], maps["layer3.1"]["temporal"] + maps["layer3.1"]["spatial"])
    assert not model.layer2[1].mgma._forward_hooks  # hooks removed


# ---------------------------------------------------------------------------------------------- conversion

def to_reference_layout(state: dict[str, torch.Tensor], backbone: str, blocks: tuple[int, ...], mgma_type: str,
                        bottleneck: bool = False) -> dict[str, torch.Tensor]:
    """Our keys -> the reference's, written from the spec's state-dict layout (mgma.md section 3): ``block.``
    inside units, ``shortcut`` / ``shortcut_bn``, ``se.fc1/fc2``, ``mgma.{ta,sa}.<split>.2.{0,1}`` (``ma`` for
    TA/SA/UA) with one BN per split, ``projection``; ShuffleNet ``first_conv``, flat ``features.<i>``; R(2+1)D's
    ``convN_middle`` / ``bnN_middle`` for the factorised convs."""
    offsets = [sum(blocks[:i]) for i in range(len(blocks))]

    def rename(name: str) -> str:
        if backbone == "shufflenet":
            name = re.sub(r"^stem\.", "first_conv.", re.sub(r"^fc\.", "projection.", name))
            return re.sub(r"^stage(\d+)\.(\d+)\.", lambda m: f"features.{offsets[int(m[1])] + int(m[2])}.", name)
        stem = {"stem.conv.spatial.": "conv1_middle.", "stem.conv.spatial_bn.": "bn1_middle.",
                "stem.conv.temporal.": "conv1.", "stem.conv.": "conv1.", "stem.bn.": "bn1.", "fc.": "projection."}
        for ours, theirs in stem.items():
            if name.startswith(ours):
                return theirs + name[len(ours):]
        name = re.sub(r"^(layer\d\.\d+)\.shortcut\.0\.", r"\1.block.shortcut.", name)
        name = re.sub(r"^(layer\d\.\d+)\.shortcut\.1\.", r"\1.block.shortcut_bn.", name)
        name = re.sub(r"^(layer\d\.\d+)\.conv(\d)\.spatial\.", r"\1.block.conv\2_middle.", name)
        name = re.sub(r"^(layer\d\.\d+)\.conv(\d)\.spatial_bn\.", r"\1.block.bn\2_middle.", name)
        name = re.sub(r"^(layer\d\.\d+)\.conv(\d)\.temporal\.", r"\1.block.conv\2.", name)
        return re.sub(r"^(layer\d\.\d+)\.(conv\d|bn\d)\.", r"\1.block.\2.", name)

    splits: dict[str, list[int]] = {}
    for name, tensor in state.items():
        match = re.match(r"(.+\.branches\.\w+)\.convs\.\d+\.weight$", name)
        if match:
            splits.setdefault(match[1], []).append(tensor.shape[0])
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        match = re.match(r"(.+)\.mgma\.branches\.(\w+)\.(?:convs\.(\d+)|bn)\.(\w+)$", name)
        if match is None:
            out[rename(name)] = tensor
            continue
        unit, kind, split, leaf = match.groups()
        branch = {"temporal": "ta", "spatial": "sa"}[kind] if mgma_type == "TSA" else "ma"
        prefix = f"{rename(unit + '.x')[:-2]}.mgma.{branch}"
        if split is not None:
            out[f"{prefix}.{split}.2.0.{leaf}"] = tensor
            continue
        sizes = splits[f"{unit}.mgma.branches.{kind}"]
        parts = [tensor] * len(sizes) if leaf == "num_batches_tracked" else tensor.split(sizes)
        for index, part in enumerate(parts):
            out[f"{prefix}.{index}.2.1.{leaf}"] = part
    return out


@pytest.mark.parametrize("variant, overrides, keys", [
    ("mgma_r3d34", {}, 346), ("r3d34", {}, 282), ("r3d34", {"se_ratio": 0.0}, 218),
    ("shufflenetv2_3d", {}, 338), ("mgma_shufflenetv2", {}, 494)])
def test_reference_layout_key_counts_and_shapes(variant: str, overrides: dict, keys: int) -> None:
    model = _meta_model(variant, **overrides)
    config = model.config
    reference = to_reference_layout(model.state_dict(), config.backbone, config.blocks, config.mgma_type or "")
    assert len(reference) == keys
    shapes = {k: tuple(v.shape) for k, v in reference.items()}
    if variant == "mgma_r3d34":
        assert shapes["layer2.1.mgma.ta.0.2.0.weight"] == (128, 16, 3, 1, 1)
        assert shapes["layer3.5.mgma.sa.0.2.0.weight"] == (256, 32, 1, 3, 3)
        assert shapes["layer3.0.block.shortcut.weight"] == (256, 128, 1, 1, 1)
        assert shapes["layer4.2.se.fc1.weight"] == (512, 512, 1, 1, 1) and "layer2.1.se.fc1.weight" not in shapes
        assert shapes["projection.weight"] == (101, 512)
    if variant == "mgma_shufflenetv2":
        assert shapes["features.1.mgma.ta.0.2.0.weight"] == (217, 31, 3, 1, 1)
        assert shapes["features.1.mgma.sa.1.2.0.weight"] == (27, 27, 1, 3, 3)
        assert shapes["features.5.mgma.ta.0.2.0.weight"] == (488, 61, 3, 1, 1)
        assert shapes["features.12.branch_proj.0.weight"] == (488, 1, 3, 3, 3)
        assert shapes["conv_last.0.weight"] == (2048, 976, 1, 1, 1)
        assert shapes["projection.weight"] == (101, 2048) and shapes["first_conv.0.weight"] == (24, 3, 3, 3, 3)
    converted = convert_reference_state_dict(reference, variant, **overrides)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {
        k: tuple(v.shape) for k, v in model.state_dict().items()}


def _tiny_r2plus1d_ua() -> MGMAResNet:
    return MGMAResNet(MGMAConfig(backbone="r2plus1d", blocks=(1, 2, 2, 1), widths=(16, 32, 64, 128),
                                 stem_width=16, head_kernel=4, mgma_type="UA", num_groups=3), 10)


@pytest.mark.parametrize("case", ["mgma_tiny", "mgma_shufflenet_tiny", "r2plus1d_ua"])
def test_converter_round_trip_loads_strictly_and_gives_the_same_outputs(case: str) -> None:
    torch.manual_seed(0)
    source = _randomise(_tiny_r2plus1d_ua() if case == "r2plus1d_ua" else build_model(case)).eval()
    config = source.config
    reference = to_reference_layout(source.state_dict(), config.backbone, config.blocks, config.mgma_type)
    checkpoint = {"model_state": {"module." + k: v for k, v in reference.items()}, "epoch": 4}
    if case == "r2plus1d_ua":  # a narrow R(2+1)D: its names are those of the table's R(2+1)D-34
        converted = convert_reference_state_dict(checkpoint, "mgma_r2plus1d34", mgma_type="UA", num_groups=3)
    else:
        converted = convert_reference_state_dict(checkpoint, case)
    target = _tiny_r2plus1d_ua() if case == "r2plus1d_ua" else build_model(case)
    target.load_state_dict(converted, strict=True)
    clips = torch.randn(2, 3, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(clips), source(clips), rtol=0, atol=0)
    broken = dict(converted)
    broken.pop(next(iter(broken)))
    with pytest.raises(RuntimeError, match="Missing key"):
        target.load_state_dict(broken, strict=True)
