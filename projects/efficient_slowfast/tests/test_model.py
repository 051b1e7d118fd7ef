"""Efficient dual-attention SlowFast models: sizes and FLOPs against the reference, CMDA maths, pathway split,
refused widths, checkpoint conversion (including the sub-BN naming bug)."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from common.engine.model_info import count_flops, count_parameters
from common.variants import UnknownVariantError
from projects.efficient_slowfast import VARIANTS, build_model, convert_reference_state_dict
from projects.efficient_slowfast.models import CMDA, ChannelPlanError, slow_frame_indices
from projects.efficient_slowfast.models.slowfast import SlowSelfAttention

# The spec's section 3.2 (reference code, 400 classes): params and fvcore GFLOPs at 16x112 (R50: 32x224).
REFERENCE_COUNTS = [
    ("slowfast_shufflenetv2", dict(width_mult=0.25), 707_014, 0.1331),
    ("slowfast_shufflenetv2", dict(width_mult=0.5), 873_659, 0.1575),
    ("slowfast_shufflenetv2", dict(width_mult=1.0), 1_949_727, 0.3192),
    ("slowfast_shufflenetv2", dict(width_mult=1.5), 3_324_187, 0.5276),
    ("slowfast_shufflenetv2", dict(), 7_064_226, 0.9130),
    ("slowfast_shufflenet", dict(), 1_611_983, 0.3768),
    ("slowfast_shufflenet", dict(width_mult=1.5), 3_347_782, 0.7297),
    ("slowfast_shufflenet", dict(width_mult=2.0), 5_704_089, 1.2283),
    ("slowfast_shufflenet", dict(width_mult=2.0, groups=3), 7_395_191, 1.6048),
    ("slowfast_shufflenet", dict(width_mult=0.5), 495_620, None),
    ("slowfast_mobilenetv2", dict(), 1_385_110, 0.1952),
    ("slowfast_mobilenetv2", dict(width_mult=0.7), 1_956_910, 0.3148),
    ("slowfast_mobilenetv2", dict(width_mult=1.0), 3_120_418, 0.5666),
    ("slowfast_mobilenetv2", dict(width_mult=1.4), 5_621_541, None),
    ("slowfast_mobilenetv2", dict(width_mult=2.0), 10_785_798, 1.7943),
    ("slowfast_ghostnet", dict(width_mult=0.5), 1_357_113, None),
    ("slowfast_ghostnet", dict(), 4_651_628, 0.9617),
    ("slowfast_ghostnet", dict(width_mult=1.3), 7_559_172, None),
    ("slowfast_ghostnet", dict(width_mult=1.5), 9_881_317, 1.5181),
    ("slowfast_ghostnet", dict(width_mult=2.0), 17_056_874, 2.1738),
    ("slowfast_dual_r50", dict(), 33_981_728, 105.93),
    ("slowfast_r50", dict(), 34_566_488, 50.58),
]
# Jester (27 classes), spec section 3.3.
JESTER_PARAMS = [("slowfast_shufflenetv2", dict(width_mult=0.25), 276_945),
                 ("slowfast_shufflenetv2", dict(), 6_204_461),
                 ("slowfast_shufflenet", dict(width_mult=2.0, groups=3), 6_410_098),
                 ("slowfast_mobilenetv2", dict(width_mult=1.0), 2_582_925),
                 ("slowfast_ghostnet", dict(), 4_114_135)]
# Number of state-dict entries of the reference models (spec section 3.4); the converter maps them one to one.
REFERENCE_KEYS = {("slowfast_dual_r50", ()): 714, ("slowfast_shufflenetv2", ()): 750,
                  ("slowfast_shufflenet", (("groups", 3), ("width_mult", 2.0))): 672,
                  ("slowfast_mobilenetv2", (("width_mult", 1.0),)): 702, ("slowfast_ghostnet", ()): 1098}
FAST_FLOPS = [("slowfast_shufflenetv2", {}, 0.9130), ("slowfast_shufflenet", dict(width_mult=2.0, groups=3), 1.6048),
              ("slowfast_mobilenetv2", {}, 0.1952)]


def _id(name: str, overrides: dict) -> str:
    return name + "".join(f"-{k}{v}" for k, v in overrides.items())


@pytest.mark.parametrize("name, overrides, params, gflops", REFERENCE_COUNTS,
                         ids=[_id(n, o) for n, o, _, _ in REFERENCE_COUNTS])
def test_parameter_counts_match_reference(name: str, overrides: dict, params: int, gflops: float | None) -> None:
    model = build_model(name, **overrides)
    assert count_parameters(model) == params
    keys = REFERENCE_KEYS.get((name, tuple(sorted(overrides.items()))))
    if keys is not None:
        assert len(model.state_dict()) == keys


@pytest.mark.parametrize("name, overrides, params", JESTER_PARAMS, ids=[_id(n, o) for n, o, _ in JESTER_PARAMS])
def test_jester_parameter_counts_match_reference(name: str, overrides: dict, params: int) -> None:
    assert count_parameters(build_model(name, 27, **overrides)) == params


def _gflops(name: str, overrides: dict) -> float:
    variant = VARIANTS[name]
    return count_flops(build_model(name, **overrides), torch.zeros(1, *variant.input_shape))


@pytest.mark.parametrize("name, overrides, gflops", FAST_FLOPS, ids=[_id(n, o) for n, o, _ in FAST_FLOPS])
def test_fvcore_gflops_match_reference(name: str, overrides: dict, gflops: float) -> None:
    assert _gflops(name, overrides) == pytest.approx(gflops, abs=5e-5)


@pytest.mark.slow
def test_fvcore_gflops_of_the_attention_heavy_models_match_reference() -> None:
    """GhostNet (attention over 4x56x56 slow positions) and both R50s at 32x224 (dual: 56 of 106 GFLOPs are
    attention), counted through the fused attention path."""
    assert _gflops("slowfast_ghostnet", {}) == pytest.approx(0.9617, abs=5e-5)
    assert _gflops("slowfast_r50", {}) == pytest.approx(50.58, abs=5e-3)
    assert _gflops("slowfast_dual_r50", {}) == pytest.approx(105.93, abs=5e-3)


def test_variant_table() -> None:
    assert [name for name, v in VARIANTS.items() if not v.paper] == ["slowfast_tiny"]
    for name, variant in VARIANTS.items():
        assert variant.mean == (0.45,) * 3 and variant.std == (0.225,) * 3
        assert variant.arch["attn_backend"] == "sdpa" and variant.arch["alpha"] == 4
    assert VARIANTS["slowfast_dual_r50"].input_shape == (3, 32, 224, 224)
    assert VARIANTS["slowfast_ghostnet"].input_shape == (3, 16, 112, 112)


def test_slow_frames_are_the_reference_linspace() -> None:
    assert slow_frame_indices(16, 4).tolist() == [0, 5, 10, 15]
    assert slow_frame_indices(32, 4).tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    model = build_model("slowfast_tiny")
    clips = torch.arange(16.0).view(1, 1, 16, 1, 1).expand(2, 3, 16, 4, 4)
    slow, fast = model.pathways(clips)
    assert slow[0, 0, :, 0, 0].tolist() == [0.0, 5.0, 10.0, 15.0] and fast is clips
    with pytest.raises(ValueError, match="multiple of alpha"):
        model(torch.zeros(1, 3, 10, 32, 32))


def _random_bn(module: torch.nn.Module, generator: torch.Generator) -> None:
    for bn in module.modules():
        if isinstance(bn, torch.nn.BatchNorm3d):
            n = bn.num_features
            bn.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            bn.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            bn.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            bn.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


@pytest.mark.parametrize("grad", [False, True], ids=["forward", "backward"])
def test_fused_attention_equals_the_explicit_math(grad: bool) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    math_path = SlowSelfAttention(16, "math")
    fused = SlowSelfAttention(16, "sdpa")
    torch.nn.init.normal_(math_path.gamma)
    fused.load_state_dict(math_path.state_dict())
    y = torch.randn(2, 16, 3, 9, 10, generator=generator)
    outputs, grads = [], []
    for layer in (math_path, fused):
        x = y.clone().requires_grad_(grad)
        out = layer(x)
        outputs.append(out.detach())
        if grad:
            (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
            grads.append([x.grad] + [p.grad for p in layer.parameters()])
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-5)
    if grad:
        for fused_grad, math_grad in zip(grads[1], grads[0]):
            torch.testing.assert_close(fused_grad, math_grad, rtol=1e-4, atol=1e-4)  # key-bias grads are ~0
    # The explicit formula of the spec: A = softmax_j(q_i . k_j) without 1/sqrt(d), O = V A^T, gamma O + y.
    with torch.no_grad():
        q, k, v = (conv(y).flatten(2) for conv in (math_path.query, math_path.key, math_path.value))  # [B, C, N]
        attention = torch.einsum("bci,bcj->bij", q, k).softmax(-1)
        expected = math_path.gamma * torch.einsum("bcj,bij->bci", v, attention).view_as(y) + y
    torch.testing.assert_close(outputs[0], expected, rtol=1e-5, atol=1e-5)


def test_cmda_branches_follow_the_spec() -> None:
    generator = torch.Generator().manual_seed(1)
    cmda = CMDA(slow_channels=32, fast_channels=4, alpha=4, beta_inv=8, attn_backend="math").eval()
    _random_bn(cmda, generator)
    torch.nn.init.normal_(cmda.s2f_attention.gamma)
    slow = torch.randn(2, 32, 2, 5, 5, generator=generator)
    fast = torch.randn(2, 4, 8, 5, 5, generator=generator)
    new_slow, new_fast = cmda([slow, fast])
    assert cmda.out_channels == (36, 8) and new_slow.shape == (2, 36, 2, 5, 5) and new_fast.shape == (2, 8, 8, 5, 5)

    def bn_relu(x: torch.Tensor, bn: torch.nn.BatchNorm3d) -> torch.Tensor:
        return F.relu(F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps))

    pooled = fast.view(2, 4, 2, 4, 5, 5).amax(3)  # max over each group of alpha consecutive frames
    gate = torch.sigmoid(F.conv1d(pooled.mean((2, 3, 4))[:, None], cmda.f2s_eca.weight, padding=1))[:, 0]
    torch.testing.assert_close(new_slow[:, :32], slow)  # slow channels first, unchanged
    torch.testing.assert_close(new_slow[:, 32:], bn_relu(pooled * gate[:, :, None, None, None], cmda.f2s_bn))
    reduced = F.conv3d(slow, cmda.s2f_reduce.weight)  # [B, 4, 2, 5, 5]
    branch = bn_relu(cmda.s2f_attention(reduced), cmda.s2f_bn)
    torch.testing.assert_close(new_fast[:, :4], branch.repeat_interleave(4, dim=2))  # slow-derived channels first
    torch.testing.assert_close(new_fast[:, 4:], fast)
    assert CMDA(8, 1, 4, 8).s2f_attention.gamma.detach().item() == 0.0  # the attention branch starts as the identity


def test_tiny_model_trains_and_is_batch_independent_in_eval() -> None:
    torch.manual_seed(0)
    model = build_model("slowfast_tiny", 5, dropout=0.0)
    clips = torch.randn(2, 3, 8, 48, 48)
    logits = model(clips)
    assert logits.shape == (2, 5)
    F.cross_entropy(logits, torch.tensor([1, 3])).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        together = model(clips)
        torch.testing.assert_close(torch.cat([model(clips[:1]), model(clips[1:])]), together, rtol=1e-5, atol=1e-6)


def test_r50_models_run_at_small_sizes_and_both_attention_paths_agree() -> None:
    torch.manual_seed(0)
    for name in ("slowfast_dual_r50", "slowfast_r50"):
        model = build_model(name, 3, attn_backend="math").eval()
        clips = torch.randn(1, 3, 8, 64, 64)
        with torch.no_grad():
            expected = model(clips)
            assert expected.shape == (1, 3)
            if name == "slowfast_dual_r50":
                for module in model.modules():
                    if hasattr(module, "attn_backend"):
                        module.attn_backend = "sdpa"
                torch.testing.assert_close(model(clips), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name, overrides, message", [
    ("slowfast_shufflenet", dict(groups=3), "groups=3 with width_mult=2.0"),
    ("slowfast_shufflenet", dict(width_mult=1.5, groups=3), "groups=1 with width_mult in"),
    ("slowfast_shufflenet", dict(width_mult=2.0, groups=2), "not divisible by its groups"),
    ("slowfast_shufflenet", dict(groups=5), "groups=5 has no channel table"),
    ("slowfast_shufflenetv2", dict(width_mult=0.75), r"width_mult in \(0.25, 0.5, 1.0, 1.5, 2.0\)"),
    ("slowfast_mobilenetv2", dict(width_mult=0.35), "rounds a fast width to 0"),
])
def test_widths_the_reference_cannot_build_are_refused_with_the_valid_ones(name: str, overrides: dict,
                                                                           message: str) -> None:
    with pytest.raises(ChannelPlanError, match=message):
        build_model(name, **overrides)


def test_unknown_variants_and_options_are_refused() -> None:
    with pytest.raises(UnknownVariantError, match="slowfast_ghostnet"):
        build_model("slowfast_x3d")
    with pytest.raises(TypeError, match="width_mult"):
        build_model("slowfast_dual_r50", width_mult=2.0)
    with pytest.raises(TypeError, match="groups"):
        build_model("slowfast_ghostnet", groups=3)
    with pytest.raises(ValueError, match="attn_backend"):
        build_model("slowfast_tiny", attn_backend="flash")
    model = build_model("slowfast_tiny", num_frames=16, alpha=2, beta_inv=4)
    assert model.num_frames == 16 and model.alpha == 2 and model.s1_fuse.out_channels == (24 + 6, 6 + 6)


# --------------------------------------------------------------------------------------------------------------
# Reference checkpoints
# --------------------------------------------------------------------------------------------------------------

def _reference_names(name: str, model: torch.nn.Module) -> dict[str, str]:
    """Our key -> the reference's, written from the spec's section 3.4 layout (not from the converter)."""
    widths = _stage_output_widths(model) if name != "slowfast_dual_r50" else {}
    mapping = {}
    for key in model.state_dict():
        ref = key
        ref = re.sub(r"\.f2s_eca\.", ".attention_channel_f2s.conv.", ref)
        ref = re.sub(r"\.f2s_bn\.", ".bn_f2s.", ref)
        ref = re.sub(r"\.s2f_reduce\.", ".downsample_c_of_slow.", ref)
        ref = re.sub(r"\.s2f_attention\.(query|key|value)\.", r".attention_spatial_s2f.\1_conv.", ref)
        ref = re.sub(r"\.s2f_attention\.gamma", ".attention_spatial_s2f.gamma", ref)
        ref = re.sub(r"\.s2f_bn\.", ".bn_s2f.", ref)
        stem = re.match(r"^(s[01])\.pathway(\d)\.(.*)$", ref)
        stage = re.match(r"^(s\d)\.pathway(\d)\.(\d+)\.(.*)$", ref)
        if stem and stem.group(1) == ("s0" if name == "slowfast_ghostnet" else "s1"):
            inner = "features." + stem.group(3) if name == "slowfast_mobilenetv2" else stem.group(3)
            ref = f"{stem.group(1)}.pathway{stem.group(2)}_stem.{inner}"
        elif stage and name == "slowfast_dual_r50":
            ref = f"{stage.group(1)}.pathway{stage.group(2)}_res{stage.group(3)}.{stage.group(4)}"
        elif stage:
            width = widths[stage.group(1)][int(stage.group(2))]
            if name == "slowfast_mobilenetv2":  # the unscaled c of the stage's first setting, both pathways
                width = {"s2": 16, "s4": 32, "s5": 64, "s6": 96, "s7": 160, "s8": 320}[stage.group(1)]
            ref = (f"{stage.group(1)}.pathway{stage.group(2)}_channel_{width}.features.{stage.group(3)}."
                   f"{stage.group(4).replace('branch', 'banch')}")
        ref = re.sub(r"^head\.fc\.", "head.projection." if name == "slowfast_dual_r50" else "head.classifier.1.", ref)
        if name == "slowfast_shufflenetv2":
            ref = re.sub(r"^head\.pathway(\d)\.", r"head.pathway\1_conv1x1x1.0.", ref)
        elif name == "slowfast_mobilenetv2":
            ref = re.sub(r"^head\.pathway(\d)\.", r"head.pathway\1_conv1x1x1.", ref)
        elif name == "slowfast_ghostnet":
            speed = {"0": "slow", "1": "fast"}
            ref = re.sub(r"^head\.pathway(\d)_proj\.", lambda m: f"head.conv_head_{speed[m.group(1)]}.", ref)
            ref = re.sub(r"^head\.pathway(\d)\.0\.", lambda m: f"head.stage5_conv_{speed[m.group(1)]}.conv.", ref)
            ref = re.sub(r"^head\.pathway(\d)\.1\.", lambda m: f"head.stage5_conv_{speed[m.group(1)]}.bn1.", ref)
        mapping[key] = ref
    return mapping


def _stage_output_widths(model: torch.nn.Module) -> dict[str, tuple[int, int]]:
    """Output channels of each stage per pathway (the reference names stages ``pathway{p}_channel_{width}``)."""
    widths: dict[str, tuple[int, int]] = {}
    hooks = [getattr(model, name).register_forward_hook(
        lambda module, inputs, outputs, name=name: widths.__setitem__(name, tuple(o.shape[1] for o in outputs)))
        for name in model.body_names if "_fuse" not in name]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, 4, 64, 64))
    for hook in hooks:
        hook.remove()
    return widths


@pytest.mark.parametrize("name, overrides", [("slowfast_dual_r50", {}), ("slowfast_shufflenetv2", {}),
                                             ("slowfast_shufflenet", dict(width_mult=2.0, groups=3)),
                                             ("slowfast_mobilenetv2", dict(width_mult=1.0)),
                                             ("slowfast_ghostnet", {})])
def test_reference_layout_converts_and_loads_strictly(name: str, overrides: dict) -> None:
    model = build_model(name, **overrides)
    mapping = _reference_names(name, model)
    reference = {"module." + mapping[key]: torch.randn(value.shape) if value.is_floating_point() else value
                 for key, value in model.state_dict().items()}
    converted = convert_reference_state_dict({"epoch": 9, "model_state": reference}, name, **overrides)
    model.load_state_dict(converted, strict=True)
    own = model.state_dict()
    for key in list(mapping)[::37]:
        torch.testing.assert_close(own[key], reference["module." + mapping[key]])


def test_spec_key_examples_convert_to_our_names() -> None:
    examples = {  # spec section 3.4 -> ours
        "s2.pathway0_channel_224.features.0.banch1.0.weight": "s2.pathway0.0.branch1.0.weight",
        "s1.pathway1_stem.conv.weight": "s1.pathway1.conv.weight",
        "s3.pathway0_res2.branch2.a_bn.running_var": "s3.pathway0.2.branch2.a_bn.running_var",
        "s2_fuse.attention_spatial_s2f.query_conv.bias": "s2_fuse.s2f_attention.query.bias",
        "s1_fuse.attention_channel_f2s.conv.weight": "s1_fuse.f2s_eca.weight",
        "s1.pathway0_stem.features.1.running_mean": "s1.pathway0.1.running_mean",
        "head.pathway1_conv1x1x1.0.1.weight": "head.pathway1.1.weight",
        "head.stage5_conv_fast.bn1.bias": "head.pathway1.1.bias",
        "head.conv_head_slow.weight": "head.pathway0_proj.weight",
    }
    state = {key: torch.zeros(1) for key in examples} | {"s2.pathway0_res0.branch2.a.weight": torch.zeros(1)}
    converted = convert_reference_state_dict(state, "slowfast_dual_r50")
    assert {examples[k] for k in examples} <= set(converted)


def test_sub_bn_statistics_of_cmda_are_remapped_not_dropped() -> None:
    """Quirk Q3: checkpoints saved in a multigrid sub-BN phase keep ``bn_f2s.bn.running_*`` (and ``split_bn``)
    names that the reference's plain-BN model silently ignores."""
    model = build_model("slowfast_tiny")
    mapping = _reference_names("slowfast_shufflenetv2", model)
    reference = {mapping[k]: v.clone() for k, v in model.state_dict().items()}
    for key in [k for k in reference if re.search(r"_fuse\.bn_(f2s|s2f)\.(running_\w+|num_batches_tracked)$", k)]:
        module, stat = key.rsplit(".", 1)
        value = reference.pop(key)
        reference[f"{module}.bn.{stat}"] = value + 3 if value.is_floating_point() else value + 7
        reference[f"{module}.split_bn.{stat}"] = torch.zeros(value.numel() * 2) if value.dim() else value
    reference["s1.pathway0_stem.1.bn.running_mean"] = torch.zeros(3)  # not a CMDA BN: left alone, then refused
    with pytest.raises(RuntimeError, match="Unexpected key"):
        build_model("slowfast_tiny").load_state_dict(convert_reference_state_dict(reference, "slowfast_tiny"))
    del reference["s1.pathway0_stem.1.bn.running_mean"]
    loaded = build_model("slowfast_tiny")
    loaded.load_state_dict(convert_reference_state_dict(reference, "slowfast_tiny"), strict=True)
    torch.testing.assert_close(loaded.s2_fuse.f2s_bn.running_var, model.s2_fuse.f2s_bn.running_var + 3)
    assert int(loaded.s4_fuse.s2f_bn.num_batches_tracked) == int(model.s4_fuse.s2f_bn.num_batches_tracked) + 7
    with pytest.raises(ValueError, match="ghostnet family"):
        convert_reference_state_dict(reference, "slowfast_ghostnet")


def test_reference_parity_tool_refuses_sizes_whose_attention_matrices_exceed_the_limit(tmp_path, capsys) -> None:
    """The offline parity tool stops before reading the checkout or allocating a clip when the reference's two
    N x N matrices would not fit (dual R50 at 32x224, batch 4: N = 25,088, 18.8 GiB)."""
    from projects.efficient_slowfast.reference import main as parity  # our hook; it imports no reference code here

    argv = ["--reference-checkout", str(tmp_path), "--frames", "32", "--size", "224", "--batch-size", "4"]
    assert parity(argv) == 1
    assert "18.8 GiB > --max-attention-gib 12.0" in capsys.readouterr().out
