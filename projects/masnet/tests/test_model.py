"""MAS-Net model: sizes and FLOPs against the reference, module formulas, checkpoint conversion, flags."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
import torchvision

from common.engine.checkpoint import CheckpointError
from common.engine.model_info import count_flops, count_parameters
from common.engine.param_groups import tsn_param_groups
from common.variants import UnknownVariantError
from projects.masnet import VARIANTS, build_model, convert_reference_state_dict, load_imagenet_resnet
from projects.masnet.model import MotionAccumulation, MotionSelection, TemporalInteraction, TemporalShift


def _randomise_bn(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Non-trivial BN statistics and affine weights, so eval-mode BN is not the identity."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


@pytest.mark.parametrize("num_classes, expected", [(174, 26_065_732), (400, 26_528_806)])
def test_r50_parameter_count_matches_reference(num_classes: int, expected: int) -> None:
    model = build_model("masnet_r50", num_classes)
    assert count_parameters(model) == expected
    assert len(model.state_dict()) == 613  # 358 parameters, 170 running stats, 85 num_batches_tracked


@pytest.mark.slow
@pytest.mark.parametrize("frames, expected", [(8, 33.55), (16, 66.55)])
def test_r50_fvcore_gflops_match_reference(frames: int, expected: float) -> None:
    model = build_model("masnet_r50", 174, num_segments=frames)
    gflops = count_flops(model, torch.zeros(1, 3, frames, 224, 224))
    assert gflops == pytest.approx(expected, rel=0.005)


def test_variant_table_is_consistent() -> None:
    for name, variant in VARIANTS.items():
        assert variant.paper == (not name.endswith("_tiny")) and variant.source
        assert variant.input_shape == (3, 8, 224 if variant.paper else 64, 224 if variant.paper else 64)
        model = build_model(name)
        assert model.num_classes == variant.num_classes and model.num_segments == variant.num_frames
        if variant.reference_params is not None:
            assert count_parameters(model) == variant.reference_params


def test_builder_keywords_and_unknown_names() -> None:
    assert build_model("tsn_tiny", 3, num_frames=4).num_segments == 4
    assert build_model("tsn_tiny", 3, num_segments=4).num_segments == 4  # the TSM repo's name, kept
    with pytest.raises(ValueError, match="disagree"):
        build_model("tsn_tiny", 3, num_frames=4, num_segments=8)
    with pytest.raises(UnknownVariantError, match="valid variants: masnet_r50, masnet_r101"):
        build_model("masnet_r18")
    with pytest.raises(UnknownVariantError, match="masnet_tiny"):
        convert_reference_state_dict({}, "masnet_r18")
    with pytest.raises(TypeError, match="unknown options"):
        build_model("tsn_tiny", 3, attn_backend="sdpa")
    state = build_model("tsn_tiny", 3).state_dict()
    with pytest.raises(ValueError, match="does not fit"):  # the same overrides as build_model
        convert_reference_state_dict(state, "tsn_tiny", temporal="mas", num_segments=4)


def test_tiny_forward_shapes_train_and_eval() -> None:
    model = build_model("masnet_tiny", 5, num_segments=4)
    clips = torch.randn(2, 3, 4, 32, 32)
    assert model(clips).shape == (2, 5)
    assert model.eval() is model and not model.training  # the reference's train()/eval() returned None
    assert model(clips).shape == (2, 5)
    with pytest.raises(ValueError, match="num_segments=4"):
        model(torch.randn(1, 3, 8, 32, 32))


def test_mam_matches_its_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    mam = MotionAccumulation(128, num_segments=4).eval()
    _randomise_bn(mam, generator)
    frames = torch.randn(2 * 4, 128, 5, 5, generator=generator)
    squeezed = F.batch_norm(F.conv2d(frames, mam.squeeze.weight), mam.squeeze_bn.running_mean,
                            mam.squeeze_bn.running_var, mam.squeeze_bn.weight, mam.squeeze_bn.bias,
                            eps=mam.squeeze_bn.eps).view(2, 4, 2, 5, 5)  # 128 / 64 = 2 channels
    accumulated = squeezed.clone()
    for t in range(3):  # a_t = (b_t + 0.5 b_{t+1}) / 1.5; the last frame passes through
        accumulated[:, t] = (squeezed[:, t] + 0.5 * squeezed[:, t + 1]) / 1.5
    expected = F.conv2d(accumulated.view(8, 2, 5, 5), mam.expand.weight)
    torch.testing.assert_close(mam(frames), expected, rtol=1e-5, atol=1e-5)


def test_msm_matches_its_formula_with_reference_weight_layout() -> None:
    generator = torch.Generator().manual_seed(1)
    channels, clips, frames = 64, 2, 3
    msm = MotionSelection(channels, num_segments=frames).eval()
    _randomise_bn(msm, generator)
    motion = torch.randn(clips * frames, channels, 6, 6, generator=generator)
    original = torch.randn(clips * frames, channels, 6, 6, generator=generator)
    # The reference's computation: [N, C, T, H, W] tensors, (1, 3, 3) Conv3d with groups 4, softmax over 2 halves.
    d1 = motion.view(clips, frames, channels, 6, 6).transpose(1, 2)
    d2 = original.view(clips, frames, channels, 6, 6).transpose(1, 2)
    pooled = d1.mean(2, keepdim=True) + d2.mean(2, keepdim=True)  # [N, C, 1, H, W]
    hidden = F.conv3d(pooled, msm.reduce.weight.unsqueeze(2), padding=(0, 1, 1), groups=4)
    bn = msm.reduce_bn
    hidden = F.relu(F.batch_norm(hidden, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps))
    logits = F.conv3d(hidden, msm.select.weight.unsqueeze(2), padding=(0, 1, 1), groups=4)  # [N, 2C, 1, H, W]
    weights = logits.view(clips, 2, channels, 1, 6, 6).softmax(dim=1)
    expected = d1 * weights[:, 0] + d2 * weights[:, 1]  # [N, C, T, H, W]
    expected = expected.transpose(1, 2).reshape(clips * frames, channels, 6, 6)
    torch.testing.assert_close(msm(motion, original), expected, rtol=1e-5, atol=1e-5)


def test_tim_starts_as_the_tsm_shift() -> None:
    frames = torch.randn(2 * 5, 16, 3, 3)
    tim_out = TemporalInteraction(16, num_segments=5)(frames).view(2, 5, 16, 3, 3)
    clips = frames.view(2, 5, 16, 3, 3)
    fold = 16 // 8
    torch.testing.assert_close(tim_out[:, :-1, :fold], clips[:, 1:, :fold])  # next frame
    torch.testing.assert_close(tim_out[:, 1:, fold:2 * fold], clips[:, :-1, fold:2 * fold])  # previous frame
    assert tim_out[:, -1, :fold].abs().max() == 0 and tim_out[:, 0, fold:2 * fold].abs().max() == 0
    torch.testing.assert_close(tim_out[:, :, 2 * fold:], clips[:, :, 2 * fold:])
    torch.testing.assert_close(tim_out.reshape(frames.shape), TemporalShift(5)(frames))


def test_tim_both_layouts_equal_the_reference_conv1d() -> None:
    tim = TemporalInteraction(8, num_segments=4)
    torch.nn.init.normal_(tim.conv.weight)
    frames = torch.randn(2 * 4, 8, 3, 3)
    # The reference: permute to [N*H*W, C, T], Conv1d with the [C, 1, 3] weight, permute back.
    sequences = frames.view(2, 4, 8, 3, 3).permute(0, 3, 4, 2, 1).reshape(18, 8, 4)
    expected = F.conv1d(sequences, tim.conv.weight.view(8, 1, 3), padding=1, groups=8)
    expected = expected.view(2, 3, 3, 8, 4).permute(0, 4, 3, 1, 2).reshape(8, 8, 3, 3)
    torch.testing.assert_close(tim(frames), expected)  # NCHW: shifted multiply-adds
    torch.testing.assert_close(tim(frames.contiguous(memory_format=torch.channels_last)), expected)  # Conv3d


def test_channels_last_input_gives_the_same_logits() -> None:
    torch.manual_seed(0)
    model = build_model("masnet_tiny", 4, num_segments=4).eval()
    clips = torch.randn(2, 3, 4, 32, 32)
    expected = model(clips)
    torch.testing.assert_close(model(clips.contiguous(memory_format=torch.channels_last_3d)), expected)


def test_msm_single_clip_bug_flag_changes_only_single_clip_batches() -> None:
    generator = torch.Generator().manual_seed(2)
    correct = build_model("masnet_tiny", 4, num_segments=4).eval()
    _randomise_bn(correct, generator)
    buggy = build_model("masnet_tiny", 4, num_segments=4, reference_single_clip_bn_skip=True).eval()
    buggy.load_state_dict(correct.state_dict())
    clips = torch.randn(2, 3, 4, 32, 32, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(buggy(clips), correct(clips))  # two clips: BN and ReLU run in both
        assert (buggy(clips[:1]) - correct(clips[:1])).abs().max() > 1e-4  # one clip: the reference skips them
        torch.testing.assert_close(correct(clips[:1]), correct(clips)[:1], rtol=1e-4, atol=1e-5)


def _reference_layout_state_dict(num_classes: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The reference's ``module.``-prefixed R50 keys and shapes, written from the spec (masnet.md 3.3)."""
    state: dict[str, torch.Tensor] = {}

    def add(name: str, *shape: int) -> None:
        state["module." + name] = torch.randn(*shape, generator=generator)

    def add_bn(name: str, n: int) -> None:
        for field in ("weight", "bias", "running_mean"):
            add(f"{name}.{field}", n)
        state[f"module.{name}.running_var"] = torch.rand(n, generator=generator) + 0.5
        state[f"module.{name}.num_batches_tracked"] = torch.tensor(7)

    add("base_model.conv1.weight", 64, 3, 7, 7)
    add("base_model.conv1.bias", 64)
    add_bn("base_model.bn1", 64)
    in_channels = 64
    for stage, (planes, depth) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for index in range(depth):
            block = f"base_model.layer{stage + 1}.{index}"
            add(f"{block}.MAM.conv1.weight", planes // 64, planes, 1, 1)
            add_bn(f"{block}.MAM.bn1", planes // 64)
            add(f"{block}.MAM.conv3.weight", planes, planes // 64, 1, 1)
            add(f"{block}.MSM.conv_fc1.weight", planes // 4, planes // 4, 1, 3, 3)
            add_bn(f"{block}.MSM.bn_fc1", planes // 4)
            add(f"{block}.MSM.conv_fc2.weight", 2 * planes, planes // 16, 1, 3, 3)
            add(f"{block}.TIM.conv.weight", planes, 1, 3)
            add(f"{block}.conv1.weight", planes, in_channels, 1, 1)
            add(f"{block}.conv1.bias", planes)
            add_bn(f"{block}.bn1", planes)
            add(f"{block}.conv2.weight", planes, planes, 3, 3)
            add(f"{block}.conv2.bias", planes)
            add_bn(f"{block}.bn2", planes)
            add(f"{block}.conv3.weight", 4 * planes, planes, 1, 1)
            add(f"{block}.conv3.bias", 4 * planes)
            add_bn(f"{block}.bn3", 4 * planes)
            if index == 0:
                add(f"{block}.downsample.0.weight", 4 * planes, in_channels, 1, 1)
                add(f"{block}.downsample.0.bias", 4 * planes)
                add_bn(f"{block}.downsample.1", 4 * planes)
            in_channels = 4 * planes
    add("new_fc.weight", num_classes, 2048)
    add("new_fc.bias", num_classes)
    return state


def test_reference_checkpoint_converts_and_loads_strictly() -> None:
    generator = torch.Generator().manual_seed(3)
    reference = _reference_layout_state_dict(174, generator)
    assert len(reference) == 613
    model = build_model("masnet_r50", 174)
    converted = convert_reference_state_dict({"epoch": 70, "state_dict": reference, "best_prec1": 49.2},
                                             "masnet_r50")
    model.load_state_dict(converted, strict=True)
    own = model.state_dict()
    ref = "module.base_model.layer3.2."
    torch.testing.assert_close(own["layer3.2.tim.conv.weight"][:, 0, :, 0, 0], reference[ref + "TIM.conv.weight"][:, 0])
    torch.testing.assert_close(own["layer3.2.msm.select.weight"], reference[ref + "MSM.conv_fc2.weight"][:, :, 0])
    torch.testing.assert_close(own["layer3.2.mam.expand.weight"], reference[ref + "MAM.conv3.weight"])
    torch.testing.assert_close(own["fc.bias"], reference["module.new_fc.bias"])
    # Without the DataParallel prefix and without num_batches_tracked (pre-1.0 files) it loads too.
    bare = {k.removeprefix("module."): v for k, v in reference.items() if not k.endswith("num_batches_tracked")}
    model.load_state_dict(convert_reference_state_dict(bare, "masnet_r50"), strict=True)
    with pytest.raises(ValueError, match="does not fit variant"):
        convert_reference_state_dict(bare, "tsm_r50")


def test_tsm_repo_checkpoint_converts() -> None:
    reference = {("module.base_model." + k.replace(".conv1.", ".conv1.net.") if k.startswith("layer") else
                  "module.base_model." + k): v for k, v in torchvision.models.resnet50().state_dict().items()
                 if not k.startswith("fc.")}
    reference.update({"module.new_fc.weight": torch.zeros(10, 2048), "module.new_fc.bias": torch.zeros(10)})
    build_model("tsm_r50", 10).load_state_dict(convert_reference_state_dict(reference, "tsm_r50"), strict=True)


def test_imagenet_init_is_strict_about_what_may_be_missing(tmp_path) -> None:
    torchvision_state = torchvision.models.resnet50().state_dict()
    path = tmp_path / "resnet50.pth"
    torch.save(torchvision_state, path)
    model = build_model("masnet_r50", 174)
    left_at_init = load_imagenet_resnet(model, path, log=lambda message: None)
    torch.testing.assert_close(model.state_dict()["layer4.2.conv2.weight"], torchvision_state["layer4.2.conv2.weight"])
    assert "conv1.bias" in left_at_init and "layer1.0.mam.squeeze.weight" in left_at_init
    assert len([k for k in left_at_init if re.search(r"(^conv1|conv[123]|downsample\.0)\.bias$", k)]) == 53
    with pytest.raises(CheckpointError, match="missing"):
        load_imagenet_resnet(build_model("masnet_r101", 174), path, log=lambda message: None)
    with pytest.raises(CheckpointError, match="--pretrained"):
        build_model("tsn_r50", 174, pretrained=tmp_path / "absent.pth")


def test_partial_bn_freezes_like_the_reference() -> None:
    model = build_model("masnet_tiny", 4, num_segments=4, partial_bn=True).train()
    assert model.bn1.training and model.bn1.weight.requires_grad
    assert not model.layer2[0].bn2.training and not model.layer2[0].mam.squeeze_bn.training
    assert model.layer2[0].msm.reduce_bn.training  # a BatchNorm3d in the reference: not frozen there either
    names = {id(p): n for n, p in model.named_parameters()}
    bn_group = next(g for g in tsn_param_groups(model, 5e-4) if g["name"] == "BN scale/shift")
    assert sorted(names[id(p)] for p in bn_group["params"]) == ["bn1.bias", "bn1.weight"]
    groups = {g["name"]: g for g in tsn_param_groups(build_model("masnet_tiny", 4), 5e-4)}
    assert groups["first_conv_bias"]["lr_mult"] == 2 and groups["normal_bias"]["weight_decay"] == 0
