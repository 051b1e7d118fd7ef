"""Parameter counts, FLOPs, checkpoint conversion and loading, position-embedding interpolation."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from common.engine.model_info import count_flops
from common.variants import UnknownVariantError
from projects.motionformer import VARIANTS, UNUSED_REFERENCE_PARAMS
from projects.motionformer.model import (Motionformer, build_model, convert_reference_state_dict, load_imagenet_vit,
                                         load_reference_checkpoint)


# FLOPs (fvcore convention: one multiply-add = one FLOP; softmax, GELU, adds and scalings are not counted). The
# closed form checks fvcore at reduced size and gives the reference's counts at sizes too slow to trace on a CPU.
def analytic_gflops(model: Motionformer, num_frames: int | None = None, img_size: int | None = None,
                    reference: bool = False) -> float:
    """GFLOPs of one clip, matching fvcore's count of this model's forward.

    ``reference=True`` counts what the reference computes instead: the dead value half of ``proj_kv`` on the
    original trajectory path and the final LayerNorm on every token.
    """
    frames = (num_frames or model.num_frames) // model.tubelet_size
    patches = ((img_size or model.img_size) // model.patch_size) ** 2
    dim, depth, hidden = model.embed_dim, model.depth, int(model.embed_dim * model.mlp_ratio)
    n = frames * patches
    tokens = n + 1
    layer_norm = 5 * tokens * dim  # fvcore: 5 per element for an affine LayerNorm
    per_block = 2 * tokens * dim * hidden + 2 * layer_norm  # MLP and two norms
    if model.attention == "joint":
        per_block += 4 * tokens * dim * dim + 2 * tokens * tokens * dim
    elif model.attention == "divided":
        per_block += 2 * 4 * tokens * dim * dim + layer_norm  # two qkv + proj pairs, temporal norm
        per_block += 2 * 2 * tokens * dim  # the CLS rows of both halves
        per_block += 2 * n * (frames + 1) * dim + 2 * n * (patches + 1) * dim  # grouped attention incl. CLS key
    else:
        per_block += 4 * tokens * dim * dim + n * dim * dim  # qkv, proj, proj_q
        value_projection = not model.original_traj_attn or reference
        if model.stage2_key_fold and not reference:
            # W_k folded into the queries (n D^2), logits on whole tokens (n h F D), weighted values (n F D)
            per_block += n * dim * dim + n * model.num_heads * frames * dim + n * frames * dim
            per_block += n * frames * dim * dim if value_projection else 0  # W_v on the trajectory tokens
            per_block += 2 * tokens * dim  # CLS row
        else:
            per_block += n * frames * dim * (2 * dim if value_projection else dim)  # proj_kv on trajectory tokens
            per_block += 2 * tokens * dim + 2 * n * frames * dim  # CLS row, stage 2
        if model.approx == "orthoformer":
            landmarks = model.num_landmarks
            per_block += 3 * n * landmarks * dim + n * landmarks * frames * dim + (landmarks - 1) * n * dim
        else:
            per_block += 2 * n * n * dim  # stage 1
    tubelet = n * dim * 3 * model.tubelet_size * model.patch_size**2
    classes = sum(model.num_classes) if isinstance(model.num_classes, (tuple, list)) else model.num_classes
    head = 5 * (tokens if reference else 1) * dim + dim * dim + dim * classes
    return (depth * per_block + tubelet + head) / 1e9


def _meta_model(variant: str, **overrides):
    with torch.device("meta"):
        return build_model(variant, **overrides)


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# Spec 3.1, measured on the reference (which counts its unused 2-D patch conv of 590,592 parameters).
@pytest.mark.parametrize("variant, reference", [
    ("joint_224_16x4", 87_883_408), ("divided_224_16x4", 116_250_256), ("motionformer_224_16x4", 109_144_720),
    ("motionformer_336_16x4", 109_144_720), ("motionformer_224_32x3", 109_150_864),
    ("ek_motionformer_224_16x4", 109_142_413),
])
def test_parameter_counts_match_reference(variant, reference):
    assert _params(_meta_model(variant)) + UNUSED_REFERENCE_PARAMS == reference
    assert VARIANTS[variant].reference_params == reference
    assert VARIANTS[variant].expected_params == reference - UNUSED_REFERENCE_PARAMS


def test_k600_and_ssv2_heads_match_reference_counts():
    assert _params(_meta_model("motionformer_224_16x4", num_classes=600)) + UNUSED_REFERENCE_PARAMS == 109_298_520
    assert _params(_meta_model("motionformer_224_16x4", num_classes=174)) + UNUSED_REFERENCE_PARAMS == 108_970_926


@pytest.mark.parametrize("overrides", [
    {"attention": "joint"}, {"attention": "divided"}, {"attention": "trajectory"},
    {"attention": "trajectory", "original_traj_attn": False},
    {"attention": "trajectory", "approx": "orthoformer", "num_landmarks": 8},
    {"attention": "trajectory", "attn_backend": "sdpa"},
    {"attention": "trajectory", "stage2_key_fold": True},
    {"attention": "trajectory", "stage2_key_fold": True, "original_traj_attn": False},
    {"attention": "trajectory", "stage2_recompute": True},
])
def test_fvcore_flops_equal_analytic_count(overrides):
    """At reduced size fvcore's count of the forward equals the analytic formula (fvcore rounds each einsum's
    count to 4 significant digits, hence the tolerance)."""
    model = build_model("motionformer_tiny", 4, **{"attn_backend": "math", **overrides})
    measured = count_flops(model, torch.zeros(1, 3, 8, 32, 32))
    assert measured == pytest.approx(analytic_gflops(model), rel=1e-5)


@pytest.mark.parametrize("variant, reference_gflops, ours", [
    ("motionformer_224_16x4", 369.51, 280.72), ("joint_224_16x4", 180.64, 180.63),
    ("divided_224_16x4", 185.77, 185.76),
])
def test_full_size_gflops(variant, reference_gflops, ours):
    """The analytic count, validated against fvcore above, reproduces the reference's fvcore totals (spec 3.2)."""
    model = _meta_model(variant)
    assert analytic_gflops(model, reference=True) == pytest.approx(reference_gflops, rel=0.005)
    # The original trajectory path skips the reference's dead value projection (7.4 GFLOPs per block).
    assert analytic_gflops(model) == pytest.approx(ours, rel=0.001)
    assert VARIANTS[variant].reference_gflops == pytest.approx(reference_gflops, rel=0.001)
    assert VARIANTS[variant].expected_gflops == pytest.approx(ours, rel=0.001)


def _spec_reference_keys(blocks: int = 12, dim: int = 768, classes: int = 400) -> dict[str, tuple[int, ...]]:
    """The K400 Motionformer ``model_state`` layout listed in spec 3.3 (205 tensors)."""
    keys = {"cls_token": (1, 1, dim), "pos_embed": (1, 197, dim), "temp_embed": (1, 8, dim),
            "patch_embed.proj.weight": (dim, 3, 16, 16), "patch_embed.proj.bias": (dim,),
            "patch_embed_3d.proj.weight": (dim, 3, 2, 16, 16), "patch_embed_3d.proj.bias": (dim,)}
    shapes = {"norm1": (dim,), "attn.qkv": (3 * dim, dim), "attn.proj_q": (dim, dim), "attn.proj_kv": (2 * dim, dim),
              "attn.proj": (dim, dim), "norm2": (dim,), "mlp.fc1": (4 * dim, dim), "mlp.fc2": (dim, 4 * dim)}
    for i in range(blocks):
        for name, shape in shapes.items():
            keys[f"blocks.{i}.{name}.weight"] = shape
            keys[f"blocks.{i}.{name}.bias"] = (shape[0],)
    keys.update({"norm.weight": (dim,), "norm.bias": (dim,), "pre_logits.fc.weight": (dim, dim),
                 "pre_logits.fc.bias": (dim,), "head.weight": (classes, dim), "head.bias": (classes,)})
    return keys


def test_released_layout_converts_and_loads_strictly():
    layout = _spec_reference_keys()
    assert len(layout) == 205
    state = {"model_state": {f"module.{k}": torch.empty(s, device="meta") for k, s in layout.items()}, "epoch": 34}
    converted = convert_reference_state_dict(state, "motionformer_224_16x4")
    model = _meta_model("motionformer_224_16x4")
    model.load_state_dict(converted, strict=True, assign=True)
    with pytest.raises(ValueError, match="trajectory-attention"):
        convert_reference_state_dict(state, "divided_224_16x4")


def _to_reference_layout(state: dict[str, torch.Tensor], patch: int) -> dict[str, torch.Tensor]:
    """Our tiny model's weights renamed to the reference's module names (spec 3.3), plus its unused 2-D conv."""
    renamed = {}
    for key, value in state.items():
        key = key.replace("patch_embed.", "patch_embed_3d.").replace("temporal_attn.", "timeattn.")
        key = key.replace("temporal_norm.", "norm3.").replace("head_verb.", "head0.").replace("head_noun.", "head1.")
        renamed[key] = value
    dim = state["cls_token"].shape[-1]
    renamed["patch_embed.proj.weight"] = torch.randn(dim, 3, patch, patch)
    renamed["patch_embed.proj.bias"] = torch.randn(dim)
    return renamed


@pytest.mark.parametrize("attention", ["divided", "trajectory"])
def test_conversion_round_trip_preserves_outputs(attention, tmp_path):
    source = build_model("motionformer_tiny", (5, 7), attention=attention).eval()
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    reference_state = _to_reference_layout(source.state_dict(), patch=8)
    torch.save({"model_state": reference_state, "epoch": 3, "cfg": "VIT: {}"}, tmp_path / "ref.pyth")
    loaded = load_reference_checkpoint(tmp_path / "ref.pyth", "motionformer_tiny", attention=attention).eval()
    clip = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        expected, actual = source(clip), loaded(clip)
    assert set(actual) == {"verb", "noun"} and actual["verb"].shape == (2, 5) and actual["noun"].shape == (2, 7)
    for head in expected:
        torch.testing.assert_close(actual[head], expected[head])


def test_reference_checkpoint_with_other_clip_length_resizes_temporal_table(tmp_path):
    source = build_model("motionformer_tiny", 4)
    with torch.no_grad():
        source.temp_embed.copy_(torch.linspace(0, 3, 4).view(1, 4, 1).expand_as(source.temp_embed))
    torch.save({"model_state": _to_reference_layout(source.state_dict(), patch=8)}, tmp_path / "ref.pyth")
    loaded = load_reference_checkpoint(tmp_path / "ref.pyth", "motionformer_tiny", num_frames=16)
    assert loaded.temp_embed.shape == (1, 8, 48)
    # Linear resampling of a linear ramp stays on the ramp (inner values) and keeps its range.
    assert loaded.temp_embed[0, :, 0].min() == 0 and loaded.temp_embed[0, :, 0].max() == 3
    with pytest.raises(FileNotFoundError, match="missing.pyth"):
        load_reference_checkpoint(tmp_path / "missing.pyth", "motionformer_tiny")


def test_joint_position_table_is_detected_and_interpolated(tmp_path):
    """Released Joint checkpoints carry one space-time table ``st_embed`` instead of the separate ones."""
    source = build_model("motionformer_tiny", 4, attention="joint", pos_embed_type="joint").eval()
    with torch.no_grad():
        source.patch_embed.proj.weight.normal_(0, 0.05)
    torch.save({"model_state": _to_reference_layout(source.state_dict(), patch=8)}, tmp_path / "joint.pyth")
    loaded = load_reference_checkpoint(tmp_path / "joint.pyth", "motionformer_tiny", attention="joint").eval()
    assert loaded.pos_embed_type == "joint"
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(clip), source(clip))
        assert torch.isfinite(loaded(torch.randn(1, 3, 4, 48, 48))).all()  # 2 frames of a 6x6 grid


def test_position_embedding_layout_and_interpolation():
    model = build_model("motionformer_tiny", 4)
    with torch.no_grad():
        model.temp_embed.normal_()
    table = model.position_embedding(4, (4, 4))
    spatial, temporal = model.pos_embed[0, 1:], model.temp_embed[0]
    # CLS gets only its slot; token t*P + p gets spatial[p] + temporal[t] (frame-major).
    assert torch.equal(table[0, 0], model.pos_embed[0, 0])
    for t in range(4):
        torch.testing.assert_close(table[0, 1 + t * 16:1 + (t + 1) * 16], spatial + temporal[t])
    # Larger crop: the reference's bicubic resize with scale_factor sqrt(P / P0) (its 336 models).
    resized = model.position_embedding(4, (6, 6))[0, 1:37] - temporal[0]
    grid = model.pos_embed[:, 1:].reshape(1, 4, 4, 48).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, scale_factor=1.5, mode="bicubic").permute(0, 2, 3, 1).reshape(36, 48)
    torch.testing.assert_close(resized, expected)
    # Other clip lengths and sizes run end to end.
    out = model(torch.randn(1, 3, 16, 48, 48))
    assert out.shape == (1, 4) and torch.isfinite(out).all()


def test_load_imagenet_vit_inflates_centre_frame(tmp_path):
    dim, depth, patch = 48, 2, 8
    generator = torch.Generator().manual_seed(0)
    vit = {"cls_token": (1, 1, dim), "pos_embed": (1, 17, dim), "patch_embed.proj.weight": (dim, 3, patch, patch),
           "patch_embed.proj.bias": (dim,), "norm.weight": (dim,), "norm.bias": (dim,), "head.weight": (1000, dim),
           "head.bias": (1000,)}
    for i in range(depth):
        for name, shape in {"norm1": (dim,), "attn.qkv": (3 * dim, dim), "attn.proj": (dim, dim), "norm2": (dim,),
                            "mlp.fc1": (2 * dim, dim), "mlp.fc2": (dim, 2 * dim)}.items():
            vit[f"blocks.{i}.{name}.weight"], vit[f"blocks.{i}.{name}.bias"] = shape, (shape[0],)
    weights = {k: torch.randn(s, generator=generator) for k, s in vit.items()}
    torch.save({"model": weights}, tmp_path / "vit.pth")
    model = build_model("motionformer_tiny", 4, attention="divided")
    left_alone = load_imagenet_vit(model, tmp_path / "vit.pth")
    kernel = model.patch_embed.proj.weight
    assert torch.equal(kernel[:, :, 1], weights["patch_embed.proj.weight"]) and not kernel[:, :, 0].any()
    assert torch.equal(model.blocks[1].attn.qkv.weight, weights["blocks.1.attn.qkv.weight"])  # spatial half
    assert torch.equal(model.pos_embed, weights["pos_embed"])
    assert "blocks.0.temporal_attn.qkv.weight" in left_alone and "head.weight" in left_alone
    assert "temp_embed" in left_alone and "blocks.0.attn.qkv.weight" not in left_alone
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        load_imagenet_vit(model, tmp_path / "absent.pth")


@pytest.mark.parametrize("attention", ["joint", "divided", "trajectory"])
def test_every_parameter_gets_a_gradient(attention):
    """No unused parameters (the reference needs DDP find_unused_parameters for its 2-D conv)."""
    model = build_model("motionformer_tiny", 4, attention=attention).train()
    model(torch.randn(2, 3, 8, 32, 32)).logsumexp(-1).sum().backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []


def test_variant_table():
    assert not VARIANTS["motionformer_tiny"].paper and VARIANTS["motionformer_tiny"].mean == (0.5, 0.5, 0.5)
    model = _meta_model("ek_motionformer_336_16x4")
    assert model.head_verb.out_features == 97 and model.head_noun.out_features == 300
    assert VARIANTS["motionformer_336_16x4"].input_shape == (3, 16, 336, 336)
    assert (model.num_frames, model.img_size) == (16, 336)


def test_builder_keywords_and_unknown_names():
    model = _meta_model("ek_motionformer_224_16x4", num_classes=5, num_frames=8, img_size=112,
                        original_traj_attn=False)
    assert model.num_classes == (5, 300) and (model.num_frames, model.img_size) == (8, 112)
    assert not model.original_traj_attn
    with pytest.raises(UnknownVariantError, match="valid variants: joint_224_16x4, divided_224_16x4"):
        build_model("motionformer_b")
    with pytest.raises(UnknownVariantError, match="motionformer_tiny"):
        convert_reference_state_dict({}, "motionformer_b")
    with pytest.raises(TypeError, match="unknown options"):
        build_model("motionformer_tiny", num_segments=8)
    state = build_model("motionformer_tiny", 4).state_dict()
    with pytest.raises(ValueError, match="divided"):  # the same overrides as build_model
        convert_reference_state_dict(state, "motionformer_tiny", attention="divided", num_frames=16)
