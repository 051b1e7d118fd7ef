"""ST-ABN model: sizes and FLOPs against the reference, map shapes and formulas, batch independence, temporal
attention editing, loss, activation checkpointing, checkpoint conversion, ImageNet inflation."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision

from common.engine.checkpoint import CheckpointError
from common.engine.model_info import count_flops, count_parameters
from common.variants import UnknownVariantError
from projects.st_abn import (STABN, VARIANTS, build_model, convert_reference_state_dict, inflate_imagenet_resnet,
                             stabn_loss)


def _randomise_bn(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Non-trivial BN statistics and affine weights, so eval-mode BN is not the identity."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def _tiny(generator_seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(generator_seed)
    model = build_model("st_abn_tiny", 6, num_frames=4, **overrides)
    _randomise_bn(model, torch.Generator().manual_seed(generator_seed))
    return model.eval()


def _meta(variant: str, *args, **kwargs) -> torch.nn.Module:
    """A model on the meta device: shapes without storage or initialisation (R50 builds in milliseconds)."""
    with torch.device("meta"):
        return build_model(variant, *args, **kwargs)


def test_r50_parameter_counts_match_the_reference_live_parameters() -> None:
    model = _meta("st_abn_r50")
    assert model.num_classes == 174 and model.num_frames == 32
    assert count_parameters(model) == VARIANTS["st_abn_r50"].expected_params == 55_665_928
    assert len(model.state_dict()) == 474 - 57  # the reference's training build less its 57 dead neck entries
    assert count_parameters(_meta("st_abn_r50", attention_classifier=False)) == 54_696_922
    assert count_parameters(_meta("slowonly_r50")) == VARIANTS["slowonly_r50"].expected_params == 31_991_022

    def class_and_frame_dependent(k: int, t: int) -> int:  # class maps, BN, both attention convs, classifiers
        return k * (2048 + 2 + 1 + 27 + 2049) + k * k + k * t * k + k + 3 * t * t + 2 * t
    assert count_parameters(_meta("st_abn_r50", 400, num_frames=16)) == (
        55_665_928 - class_and_frame_dependent(174, 32) + class_and_frame_dependent(400, 16))


@pytest.mark.slow
def test_r50_fvcore_gflops_match_the_reference() -> None:
    gflops = count_flops(build_model("st_abn_r50"), torch.zeros(1, 3, 32, 224, 224))
    assert gflops == pytest.approx(VARIANTS["st_abn_r50"].expected_gflops, abs=0.005)  # 309.87
    assert gflops == pytest.approx(VARIANTS["st_abn_r50"].reference_gflops, rel=0.001)  # 310.06


class _WithAttention(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.forward_with_attention(x).values())


def test_attention_outputs_cost_exactly_the_attention_classifier() -> None:
    # At full size: 309.87 for model(x) + 174*174*32*14*14 (att_conv2) + 5568*174 (fc) = 310.06, the reference's count.
    model = _tiny()
    x = torch.zeros(1, 3, 4, 48, 80)  # layer3 map 3 x 5
    extra = count_flops(_WithAttention(model), x) - count_flops(model, x)
    assert extra * 1e9 == pytest.approx(6 * 6 * 4 * 3 * 5 + 6 * 4 * 6, abs=0.5)


def test_map_shapes_and_ranges_in_train_and_eval() -> None:
    model = _tiny()
    x = torch.randn(2, 3, 4, 48, 80)
    for mode in (True, False):
        model.train(mode)
        out = model.forward_with_attention(x)
        assert list(out) == ["logits", "attention_logits", "spatial_attention", "temporal_attention"]
        assert out["logits"].shape == out["attention_logits"].shape == (2, 6)
        assert out["spatial_attention"].shape == (2, 1, 4, 3, 5)
        assert out["temporal_attention"].shape == (2, 1, 4, 1, 1)
        for name in ("spatial_attention", "temporal_attention"):
            assert ((out[name] > 0) & (out[name] < 1)).all()
        assert model(x).shape == (2, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_with_attention(x)["logits"], rtol=0, atol=0)
    with pytest.raises(ValueError, match="num_frames=8"):
        model(torch.randn(1, 3, 8, 48, 80))
    baseline = _meta("slowonly_r50", 5, num_frames=8)
    assert baseline.attention is None and not hasattr(baseline, "fusion_conv")
    with pytest.raises(RuntimeError, match="no attention branch"):
        baseline.forward_with_attention(torch.randn(1, 3, 8, 32, 32))


def test_a_batch_of_two_equals_each_clip_alone() -> None:
    model = _tiny(1)
    x = torch.randn(2, 3, 4, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        together = model.forward_with_attention(x)
        for index in range(2):
            alone = model.forward_with_attention(x[index:index + 1])
            for name, value in alone.items():
                torch.testing.assert_close(value[0], together[name][index], rtol=1e-4, atol=1e-5)


def test_attention_mechanism_and_classifier_follow_the_reference_formulas() -> None:
    model = _tiny(2)
    x = torch.randn(2, 3, 4, 32, 48)
    with torch.no_grad():
        out = model.forward_with_attention(x)
        features = model.forward_features(x)
        maps = model.attention.class_maps(features)
        spatial, temporal = out["spatial_attention"], out["temporal_attention"]
        # Residual in space, plain gating in time, spatial half first, then conv, BN, ReLU.
        fused = F.conv3d(torch.cat(((1 + spatial) * features, temporal * features), 1), model.fusion_conv.weight)
        bn = model.fusion_bn
        fused = F.relu(F.batch_norm(fused, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps))
        torch.testing.assert_close(out["logits"], model.fc(model.layer4(fused).mean((2, 3, 4))))
        # Class-major flatten: the classifier input index is c * T + t.
        pooled = model.attention.logit_conv(maps).mean((3, 4))  # [B, K, T]
        weight = model.attention.fc.weight.view(6, 6, 4)  # [out, K, T]
        expected = torch.einsum("bkt,okt->bo", pooled, weight) + model.attention.fc.bias
        torch.testing.assert_close(out["attention_logits"], expected)


def test_a_given_temporal_attention_replaces_the_computed_one() -> None:
    model = _tiny(3)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        out = model.forward_with_attention(x)
        same = model.forward_with_attention(x, temporal_attention=out["temporal_attention"])
        torch.testing.assert_close(same["logits"], out["logits"], rtol=0, atol=0)
        edited = torch.tensor([1.0, 0.0, 0.0, 1.0])
        for form in (edited, edited.expand(2, 4), edited.view(1, 1, 4, 1, 1)):
            result = model.forward_with_attention(x, temporal_attention=form)
            assert result["temporal_attention"].shape == (2, 1, 4, 1, 1)
            torch.testing.assert_close(result["temporal_attention"][1, 0, :, 0, 0], edited)
        assert (result["logits"] - out["logits"]).abs().max() > 1e-4
        torch.testing.assert_close(result["spatial_attention"], out["spatial_attention"])


def test_training_outputs_give_the_dict_in_training_mode_only() -> None:
    model = _tiny(6, training_outputs=True)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        logits = model(x)
        assert isinstance(logits, torch.Tensor) and logits.shape == (2, 6)  # eval: logits
        outputs = model.train()(x)
    assert set(outputs) == {"logits", "attention_logits", "spatial_attention", "temporal_attention"}
    with pytest.raises(ValueError, match="training_outputs"):
        build_model("st_abn_tiny", attention_classifier=False, training_outputs=True)


def test_loss_sums_both_branches_with_the_given_weight() -> None:
    model = _tiny(4).train()
    out = model.forward_with_attention(torch.randn(1, 3, 4, 32, 32))
    labels = torch.tensor([[3]])  # [B, 1] as the reference's loader gives it; B = 1 broke its squeeze()
    losses = stabn_loss(out, labels)
    perception = F.cross_entropy(out["logits"], labels.view(-1))
    attention = F.cross_entropy(out["attention_logits"], labels.view(-1))
    torch.testing.assert_close(losses["loss"], perception + attention)
    torch.testing.assert_close(stabn_loss(out, labels, attention_weight=0.5)["loss"], perception + 0.5 * attention)
    inference = build_model("st_abn_tiny", attention_classifier=False)
    with pytest.raises(KeyError, match="attention_classifier=True"):
        stabn_loss(inference.forward_with_attention(torch.randn(1, 3, 8, 32, 32)), labels)


def test_checkpointing_changes_nothing_but_memory_and_updates_bn_once() -> None:
    plain = _tiny(5).train()
    checkpointed = _tiny(5, checkpointing=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x, labels = torch.randn(2, 3, 4, 32, 32), torch.tensor([1, 2])
    calls = {}
    for model in (plain, checkpointed):
        calls[model] = 0
        model.layer3[0].conv1.register_forward_pre_hook(lambda module, args, model=model: calls.__setitem__(
            model, calls[model] + 1))
        torch.manual_seed(0)  # the same dropout masks
        stabn_loss(model.forward_with_attention(x), labels)["loss"].backward()
    assert calls[plain] == 1 and calls[checkpointed] == 2  # the block ran again during backward
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)
    for (name, a), b in zip(plain.named_buffers(), checkpointed.buffers()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)  # num_batches_tracked == 1 in both
    assert int(checkpointed.layer3[0].bn1.num_batches_tracked) == 1
    assert checkpointed.layer3[0].bn1.momentum == 0.1


def _reference_layout_state_dict(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The MMAction v1 training-build keys and shapes of sthv1/st_abn_32, written from the spec (st_abn.md 3.4)."""
    state: dict[str, torch.Tensor] = {}

    def add(name: str, *shape: int) -> None:
        state[name] = torch.randn(*shape, generator=generator)

    def add_bn(name: str, n: int) -> None:
        for field in ("weight", "bias", "running_mean"):
            add(f"{name}.{field}", n)
        state[f"{name}.running_var"] = torch.rand(n, generator=generator) + 0.5
        state[f"{name}.num_batches_tracked"] = torch.tensor(1000)

    add("backbone.conv1.weight", 64, 3, 1, 7, 7)
    add_bn("backbone.bn1", 64)
    in_channels = 64
    stages = [("layer1", 64, 3, 1), ("layer2", 128, 4, 1), ("layer3", 256, 6, 3), ("layer4", 512, 3, 3),
              ("att_layer4", 512, 3, 3)]
    for name, planes, depth, kernel_t in stages:
        in_channels = 1024 if name == "att_layer4" else in_channels
        for index in range(depth):
            block = f"backbone.{name}.{index}"
            add(f"{block}.conv1.weight", planes, in_channels if index == 0 else 4 * planes, kernel_t, 1, 1)
            add(f"{block}.conv2.weight", planes, planes, 1, 3, 3)
            add(f"{block}.conv3.weight", 4 * planes, planes, 1, 1, 1)
            for bn, n in (("bn1", planes), ("bn2", planes), ("bn3", 4 * planes)):
                add_bn(f"{block}.{bn}", n)
            if index == 0:
                add(f"{block}.downsample.0.weight", 4 * planes, in_channels, 1, 1, 1)
                add_bn(f"{block}.downsample.1", 4 * planes)
        in_channels = 4 * planes
    add_bn("backbone.bn_att", 2048)
    add("backbone.att_conv.weight", 174, 2048, 1, 1, 1)
    add_bn("backbone.bn_att2", 174)
    add("backbone.att_conv2.weight", 174, 174, 1, 1, 1)
    add("backbone.att_conv3.weight", 1, 174, 1, 1, 1)
    add_bn("backbone.bn_att3", 1)
    add("backbone.t_att_conv.weight", 1, 174, 3, 3, 3)
    add_bn("backbone.t_bn_att", 1)
    add("backbone.t_att_conv2.weight", 32, 32, 1, 1)
    for fc in ("fc1", "fc2"):
        add(f"backbone.{fc}.weight", 32, 32)
        add(f"backbone.{fc}.bias", 32)
    add("backbone.t_att_conv3.weight", 1024, 2048, 1, 1, 1)
    add_bn("backbone.bn_att4", 1024)
    add("necks.att_head.fc.weight", 174, 5568)
    add("necks.att_head.fc.bias", 174)
    # The TPN modules the neck builds and never runs (spec 1.5).
    add("necks.att_head.convs.conv.weight", 2048, 1024, 1, 3, 3)
    add_bn("necks.att_head.convs.bn", 2048)
    for index in range(2):
        add(f"necks.temporal_modulation_ops.{index}.conv.weight", 1024, 64, 3, 1, 1)
    add("necks.downsampling_ops.0.conv.weight", 1024, 1024, 3, 1, 1)
    for op in ("level_fusion_op", "level_fusion_op2"):
        for index in range(2):
            add(f"necks.{op}.ops.{index}.conv.weight", 1024, 32, 1, 1, 1)
            add_bn(f"necks.{op}.ops.{index}.norm", 1024)
        add(f"necks.{op}.fusion_conv.0.weight", 2048, 2048, 1, 1, 1)
        add_bn(f"necks.{op}.fusion_conv.1", 2048)
    add("necks.spatial_modulation.spatial_modulation.0.0.conv.weight", 2048, 1024, 1, 3, 3)
    add_bn("necks.spatial_modulation.spatial_modulation.0.0.bn", 2048)
    add("necks.pyramid_fusion_op.0.weight", 2048, 4096, 1, 1, 1)
    add_bn("necks.pyramid_fusion_op.1", 2048)
    add("cls_head.fc_cls.weight", 174, 2048)
    add("cls_head.fc_cls.bias", 174)
    return state


def test_reference_checkpoint_converts_and_loads_strictly() -> None:
    reference = _reference_layout_state_dict(torch.Generator().manual_seed(6))
    assert len(reference) == 474
    messages: list[str] = []
    checkpoint = {"meta": {"epoch": 150}, "state_dict": {"module." + k: v for k, v in reference.items()},
                  "optimizer": {}}
    converted = convert_reference_state_dict(checkpoint, "st_abn_r50", log=messages.append)
    assert len(messages) == 1 and "dropped 57 keys (58,224,640 parameters)" in messages[0]
    model = _meta("st_abn_r50")
    model.load_state_dict(converted, strict=True, assign=True)
    own = model.state_dict()
    pairs = {"attention.layers.0.downsample.0.weight": "backbone.att_layer4.0.downsample.0.weight",
             "attention.frame_conv.weight": "backbone.t_att_conv2.weight",
             "attention.temporal_bn.running_var": "backbone.t_bn_att.running_var",
             "attention.fc.weight": "necks.att_head.fc.weight", "fusion_conv.weight": "backbone.t_att_conv3.weight",
             "layer3.5.conv1.weight": "backbone.layer3.5.conv1.weight", "fc.bias": "cls_head.fc_cls.bias"}
    for ours, theirs in pairs.items():
        torch.testing.assert_close(own[ours], reference[theirs], rtol=0, atol=0)
    # The reference's test build: no attention classifier; without num_batches_tracked; no prefix.
    bare = {k: v for k, v in reference.items() if not k.endswith("num_batches_tracked")}
    inference = _meta("st_abn_r50", attention_classifier=False)
    inference.load_state_dict(convert_reference_state_dict(bare, "st_abn_r50", log=messages.append,
                                                           attention_classifier=False), strict=True, assign=True)
    assert "attention classifier" in messages[-1]
    with pytest.raises(ValueError, match="does not have"):
        convert_reference_state_dict(bare, "slowonly_r50", log=messages.append)
    with pytest.raises(ValueError, match="not in the ST-ABN reference layout"):
        convert_reference_state_dict({**bare, "backbone.extra.weight": torch.zeros(1)}, "st_abn_r50")


def test_imagenet_inflation_by_path(tmp_path) -> None:
    # A one-block-per-stage torchvision ResNet and the matching ST-ABN: the same module paths as R50, less to build.
    resnet = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1]).state_dict()
    path = tmp_path / "resnet.pth"
    torch.save(resnet, path)
    model = STABN(num_classes=5, num_frames=4, depths=(1, 1, 1, 1), width=64)
    before = model.state_dict()["attention.layers.0.conv1.weight"].clone()
    untouched = inflate_imagenet_resnet(model, path, log=lambda message: None)
    own = model.state_dict()
    torch.testing.assert_close(own["layer3.0.conv1.weight"], resnet["layer3.0.conv1.weight"][:, :, None].expand(
        -1, -1, 3, -1, -1) / 3)  # 3x1x1: repeated over time, divided by 3
    torch.testing.assert_close(own["layer2.0.conv1.weight"][:, :, 0], resnet["layer2.0.conv1.weight"])
    torch.testing.assert_close(own["conv1.weight"][:, :, 0], resnet["conv1.weight"])
    torch.testing.assert_close(own["layer4.0.bn2.running_var"], resnet["layer4.0.bn2.running_var"])
    torch.testing.assert_close(own["attention.layers.0.conv1.weight"], before)  # not pretrained (spec Q12)
    assert untouched and all(k.startswith(("attention.", "fusion_", "fc.")) for k in untouched)
    with pytest.raises(CheckpointError, match="not found"):
        build_model("st_abn_tiny", pretrained=tmp_path / "absent.pth")


def test_variant_table_and_options() -> None:
    assert list(VARIANTS) == ["st_abn_r50", "slowonly_r50", "st_abn_tiny"]
    assert not VARIANTS["st_abn_tiny"].paper and "not from the paper" in VARIANTS["st_abn_tiny"].source
    with pytest.raises(UnknownVariantError, match="st_abn_r50, slowonly_r50, st_abn_tiny"):
        build_model("st_abn_r101")
    with pytest.raises(TypeError, match="checkpointing"):
        build_model("st_abn_tiny", with_cp=True)
    with pytest.raises(ValueError, match="no attention branch"):
        build_model("slowonly_r50", attention_classifier=True)
