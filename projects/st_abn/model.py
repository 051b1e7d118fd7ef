"""ST-ABN: a spatio-temporal attention branch network on an inflated "slow-only" ResNet-50, with its baseline.

Paper: M. Mitsuhara, T. Hirakawa, T. Yamashita, H. Fujiyoshi, "ST-ABN: Visual Explanation Taking into Account
Spatio-temporal Information for Video Recognition", arXiv:2110.15574 (2021). Reference code:
https://github.com/machine-perception-robotics-group/ST-ABN_PyTorch (HEAD 9b0f68d, an MMAction v1 / TPN fork).
Everything below follows ``shared/specs/st_abn.md``; the reference's module names are given in comments so that
the converter at the end reads as a table.

The network shares stem + layer1-3 (``X``, 1024 channels at 1/16 of the input) between two branches:

* the **attention branch**: a stride-1 copy of stage 4 (``attention.layers``), BN, a 1x1x1 conv to one response map
  per class ``K = ReLU(BN(conv(BN(layers(X)))))``; from ``K`` the spatial map ``A_s = sigmoid(BN(conv1x1x1(K)))``
  ``[B, 1, T, h, w]``; the temporal map ``A_t`` ``[B, 1, T, 1, 1]`` from a 3x3x3 conv, BN and ReLU, the frames
  then taken as channels of a 1x1 Conv2d (ReLU), a spatial mean and two linear layers over frames (ReLU, sigmoid);
  and its own classifier: a 1x1x1 conv, a spatial mean, dropout, the class-major ``[B, K*T]`` flatten and a linear
  layer (the reference keeps that last layer in its "neck").
* the **attention mechanism and perception branch**:
  ``ReLU(BN(conv1x1x1(cat[(1 + A_s) X, A_t X])))`` -- residual in space, plain gating in time, as the reference --
  then the ImageNet-initialised stage 4 (stride 2), a global mean, dropout and the classifier.

The reference fixes 174 classes, 32 frames and a 14x14 layer3 map (fixed pools); here the class count and clip length
are build arguments and the pools are global means, equal at the reference's size and valid at any input whose
layer3 map is at least 1x1. The temporal-attention layers and the attention classifier have T-sized weights, so a
model takes clips of the ``num_frames`` it was built for.

Citation::

    @article{mitsuhara2021stabn,
      title   = {{ST-ABN}: Visual Explanation Taking into Account Spatio-temporal Information for Video Recognition},
      author  = {Mitsuhara, Masahiro and Hirakawa, Tsubasa and Yamashita, Takayoshi and Fujiyoshi, Hironobu},
      journal = {arXiv preprint arXiv:2110.15574},
      year    = {2021}
    }
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Callable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from common.engine.checkpoint import CheckpointError, load_checkpoint, load_state_dict_verbose, unwrap_state_dict
from common.variants import Variant, lookup, variant_table

__all__ = ["Bottleneck3d", "AttentionBranch", "STABN", "stabn_loss", "convert_reference_state_dict",
           "inflate_imagenet_resnet", "VARIANTS", "build_model"]

EXPANSION = 4


# --------------------------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _frozen_running_stats(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` normalise with batch statistics as usual but leave their running statistics
    and batch counters as they were (for the recomputing forward of activation checkpointing): momentum 0 keeps
    the running averages bit for bit and runs the same ops, which the checkpoint's saved-tensor check requires."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(norm.momentum, norm.num_batches_tracked.clone()) for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, (momentum, count) in zip(norms, saved):
            norm.momentum = momentum
            norm.num_batches_tracked.copy_(count)


class Bottleneck3d(nn.Module):
    """ResNet bottleneck on ``[B, C, T, H, W]`` (the "pytorch" style: the spatial stride sits on the 3x3 conv).

    ``inflate``: conv1 is 3x1x1 (temporal padding 1) instead of 1x1x1, as in every block of stages 3 and 4.
    ``checkpointing``: recompute the block during backward instead of storing its activations (the reference's
    ``with_cp``), only while training with gradients enabled; the recomputation does not touch BN running
    statistics, so they are updated once per step, as without checkpointing.
    """

    def __init__(self, in_channels: int, planes: int, spatial_stride: int = 1, inflate: bool = False,
                 checkpointing: bool = False) -> None:
        super().__init__()
        out_channels = planes * EXPANSION
        self.checkpointing = checkpointing
        kernel_t = 3 if inflate else 1
        self.conv1 = nn.Conv3d(in_channels, planes, (kernel_t, 1, 1), padding=(kernel_t // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, spatial_stride, spatial_stride),
                               padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.downsample = None
        if spatial_stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=(1, spatial_stride, spatial_stride), bias=False),
                nn.BatchNorm3d(out_channels))

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        return out + (x if self.downsample is None else self.downsample(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and self.training and torch.is_grad_enabled():
            out = checkpoint(self._residual, x, use_reentrant=False,
                             context_fn=lambda: (contextlib.nullcontext(), _frozen_running_stats(self)))
        else:
            out = self._residual(x)
        return F.relu(out)


def make_stage(in_channels: int, planes: int, depth: int, spatial_stride: int, inflate: bool,
               checkpointing: bool) -> nn.Sequential:
    """``depth`` bottlenecks; the first one strides and projects."""
    blocks = [Bottleneck3d(in_channels, planes, spatial_stride, inflate, checkpointing)]
    blocks += [Bottleneck3d(planes * EXPANSION, planes, 1, inflate, checkpointing) for _ in range(depth - 1)]
    return nn.Sequential(*blocks)


class AttentionBranch(nn.Module):
    """The attention branch on the layer3 map ``X`` ``[B, C3, T, h, w]``: class response maps, the spatial and
    temporal attention maps, and the attention-branch classifier (``classifier=False`` leaves the last linear
    layer out, as the reference's test build does)."""

    def __init__(self, in_channels: int, planes: int, depth: int, num_classes: int, num_frames: int,
                 dropout: float = 0.5, classifier: bool = True, checkpointing: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_frames = num_frames
        self.layers = make_stage(in_channels, planes, depth, 1, True, checkpointing)  # att_layer4 (stride 1)
        width = planes * EXPANSION
        self.bn = nn.BatchNorm3d(width)  # bn_att
        self.class_conv = nn.Conv3d(width, num_classes, 1, bias=False)  # att_conv
        self.class_bn = nn.BatchNorm3d(num_classes)  # bn_att2
        self.spatial_conv = nn.Conv3d(num_classes, 1, 1, bias=False)  # att_conv3
        self.spatial_bn = nn.BatchNorm3d(1)  # bn_att3
        self.temporal_conv = nn.Conv3d(num_classes, 1, 3, padding=1, bias=False)  # t_att_conv
        self.temporal_bn = nn.BatchNorm3d(1)  # t_bn_att
        self.frame_conv = nn.Conv2d(num_frames, num_frames, 1, bias=False)  # t_att_conv2: frames as channels
        self.frame_fc1 = nn.Linear(num_frames, num_frames)  # fc1
        self.frame_fc2 = nn.Linear(num_frames, num_frames)  # fc2
        self.logit_conv = nn.Conv3d(num_classes, num_classes, 1, bias=False)  # att_conv2
        self.dropout = nn.Dropout(dropout)  # in the reference's neck
        self.fc = nn.Linear(num_classes * num_frames, num_classes) if classifier else None  # necks.att_head.fc

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``K``: one non-negative response map per class, ``[B, num_classes, T, h, w]``."""
        features = self.bn(self.layers(x))  # [B, 4*planes, T, h, w]
        return F.relu(self.class_bn(self.class_conv(features)))  # [B, K, T, h, w]

    def spatial_attention(self, maps: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.spatial_bn(self.spatial_conv(maps)))  # [B, 1, T, h, w]

    def temporal_attention(self, maps: torch.Tensor) -> torch.Tensor:
        batch, _, frames, height, width = maps.shape
        out = F.relu(self.temporal_bn(self.temporal_conv(maps)))  # [B, 1, T, h, w]
        out = out.view(batch, frames, height, width)  # [B, T, h, w]: frames become channels
        out = F.relu(self.frame_conv(out)).mean((2, 3))  # [B, T]
        out = torch.sigmoid(self.frame_fc2(F.relu(self.frame_fc1(out))))  # [B, T]
        return out.view(batch, 1, frames, 1, 1)  # [B, 1, T, 1, 1]

    def logits(self, maps: torch.Tensor) -> torch.Tensor:
        """Attention-branch logits ``[B, num_classes]``; the flatten is class-major (index ``c * T + t``)."""
        pooled = self.logit_conv(maps).mean((3, 4))  # [B, K, T]
        return self.fc(self.dropout(pooled).flatten(1))  # [B, K*T] -> [B, K]


# --------------------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------------------

class STABN(nn.Module):
    """Inflated ResNet ("slow-only": no temporal stride anywhere) with or without the ST-ABN attention branch.

    ``forward(x)``: ``x`` float ``[B, 3, T, H, W]`` (normalised) -> perception logits ``[B, num_classes]``.
    ``forward_with_attention(x, temporal_attention=None)`` (attention models): a dict with ``logits``,
    ``attention_logits`` (absent when built without the attention classifier), ``spatial_attention``
    ``[B, 1, T, h, w]`` and ``temporal_attention`` ``[B, 1, T, 1, 1]`` (the sigmoid outputs, ``A_s`` before its
    ``1 +``); a given ``temporal_attention`` (``[B, 1, T, 1, 1]``, ``[B, T]`` or ``[T]``) replaces ``A_t`` before it
    is applied and is returned as the one used.

    Args:
        num_classes: classifier width, and the number of class response maps of the attention branch.
        num_frames: clip length T; the temporal-attention layers and the attention classifier depend on it.
        depths: bottlenecks per stage (ResNet-50: 3, 4, 6, 3); the attention branch copies the last stage.
        width: stem channels and layer1 planes; later stages double.
        attention: build the attention branch and mechanism (False: the slow-only baseline).
        attention_classifier: build the attention branch's linear classifier (training needs it; inference does not).
        dropout: before the perception classifier. attention_dropout: before the attention classifier.
        checkpointing: activation checkpointing of every bottleneck while training (memory only).
        training_outputs: in training mode, ``forward`` returns ``forward_with_attention``'s dict, which the
            two-branch loss needs, for trainers that call ``model(x)`` (and DDP, which must see the forward);
            eval mode always returns logits.
    """

    def __init__(self, num_classes: int, num_frames: int, depths: tuple[int, ...] = (3, 4, 6, 3), width: int = 64,
                 attention: bool = True, attention_classifier: bool = True, dropout: float = 0.5,
                 attention_dropout: float = 0.5, checkpointing: bool = False, training_outputs: bool = False) -> None:
        super().__init__()
        if training_outputs and not (attention and attention_classifier):
            raise ValueError("training_outputs needs the attention branch and its classifier")
        self.training_outputs = training_outputs
        if len(depths) != 4:
            raise ValueError(f"depths must give the four ResNet stages, got {depths}")
        self.num_classes = num_classes
        self.num_frames = num_frames
        self.conv1 = nn.Conv3d(3, width, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        in_channels = width
        for stage, depth in enumerate(depths):
            planes = width * 2 ** stage
            stage_module = make_stage(in_channels, planes, depth, 1 if stage == 0 else 2, stage >= 2, checkpointing)
            self.add_module(f"layer{stage + 1}", stage_module)
            in_channels = planes * EXPANSION
        layer3_channels = width * 4 * EXPANSION
        self.attention = None
        if attention:
            self.attention = AttentionBranch(layer3_channels, width * 8, depths[3], num_classes, num_frames,
                                             attention_dropout, attention_classifier, checkpointing)
            self.fusion_conv = nn.Conv3d(2 * layer3_channels, layer3_channels, 1, bias=False)  # t_att_conv3
            self.fusion_bn = nn.BatchNorm3d(layer3_channels)  # bn_att4
        self.num_features = in_channels
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)  # cls_head.fc_cls
        self._init_weights()

    def _init_weights(self) -> None:
        # As the reference with its ImageNet init: the ResNet convs are overwritten by inflated ImageNet weights
        # (``inflate_imagenet_resnet``; without them they start as mmcv's kaiming fan-out), the attention layers and
        # the fusion conv keep PyTorch's default initialisation (no ImageNet counterpart), BN starts at (1, 0), both
        # classifiers at N(0, 0.01^2) with zero bias.
        for name, module in self.named_modules():
            if isinstance(module, nn.Conv3d) and (name == "conv1" or name.startswith("layer")):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        classifiers = [self.fc]
        if self.attention is not None and self.attention.fc is not None:
            classifiers.append(self.attention.fc)
        for linear in classifiers:
            nn.init.normal_(linear.weight, 0.0, 0.01)
            nn.init.zeros_(linear.bias)

    def _check_frames(self, x: torch.Tensor) -> None:
        if self.attention is not None and x.shape[2] != self.num_frames:
            raise ValueError(f"model built for num_frames={self.num_frames}, got a clip of {x.shape[2]} frames "
                             f"(the temporal attention has T-sized weights); build it with num_frames={x.shape[2]}")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The shared layer3 map ``X``, ``[B, 16*width, T, H/16, W/16]``."""
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)  # [B, w, T, H/2, W/2]
        x = F.max_pool3d(x, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))  # [B, w, T, H/4, W/4]
        return self.layer3(self.layer2(self.layer1(x)))  # [B, 16w, T, H/16, W/16]

    def attend(self, x: torch.Tensor, spatial: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
        """The attention mechanism: ``ReLU(BN(conv(cat[(1 + A_s) X, A_t X])))``, ``[B, C3, T, h, w]``."""
        fused = torch.cat((x * spatial + x, x * temporal), dim=1)  # [B, 2*C3, T, h, w], spatial half first
        return F.relu(self.fusion_bn(self.fusion_conv(fused)))  # [B, C3, T, h, w]

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Perception branch from the (attended) layer3 map: layer4, global mean, dropout, classifier."""
        pooled = self.layer4(x).mean((2, 3, 4))  # [B, 32w]
        return self.fc(self.dropout(pooled))  # [B, K]

    def _attended(self, x: torch.Tensor, temporal_attention: torch.Tensor | None,
                  attention_logits: bool) -> dict[str, torch.Tensor]:
        self._check_frames(x)
        features = self.forward_features(x)
        maps = self.attention.class_maps(features)
        spatial = self.attention.spatial_attention(maps)
        if temporal_attention is None:
            temporal = self.attention.temporal_attention(maps)
        else:
            temporal = temporal_attention.to(features).reshape(-1, 1, self.num_frames, 1, 1)  # [B|1, 1, T, 1, 1]
            temporal = temporal.expand(x.shape[0], 1, self.num_frames, 1, 1)  # [B, 1, T, 1, 1]
        outputs = {"logits": self.head(self.attend(features, spatial, temporal))}
        if attention_logits and self.attention.fc is not None:
            outputs["attention_logits"] = self.attention.logits(maps)
        outputs["spatial_attention"] = spatial
        outputs["temporal_attention"] = temporal
        return outputs

    def forward_with_attention(self, x: torch.Tensor,
                               temporal_attention: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.attention is None:
            raise RuntimeError("this model has no attention branch (a slow-only baseline)")
        return self._attended(x, temporal_attention, attention_logits=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        if self.attention is None:
            return self.head(self.forward_features(x))
        if self.training and self.training_outputs:
            return self._attended(x, None, attention_logits=True)
        return self._attended(x, None, attention_logits=False)["logits"]  # the attention classifier is skipped


def stabn_loss(outputs: Mapping[str, torch.Tensor], labels: torch.Tensor,
               attention_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """``CE(perception) + attention_weight * CE(attention branch)`` on ``forward_with_attention``'s outputs.

    The reference's total is the unweighted sum (its config's ``loss_weight=0.5`` is stored, never applied), hence
    the default 1.0. Labels are flattened with ``view(-1)``, so a batch of one works (the reference's ``squeeze()``
    made it 0-d). Returns ``loss`` (the total), ``perception_loss`` and ``attention_loss``.
    """
    labels = labels.view(-1)
    perception = F.cross_entropy(outputs["logits"], labels)
    if "attention_logits" not in outputs:
        raise KeyError("no attention_logits: build the model with attention_classifier=True to train it")
    attention = F.cross_entropy(outputs["attention_logits"], labels)
    return {"loss": perception + attention_weight * attention, "perception_loss": perception,
            "attention_loss": attention}


# --------------------------------------------------------------------------------------------------------------
# Checkpoint conversion and ImageNet initialisation
# --------------------------------------------------------------------------------------------------------------

# Reference (MMAction v1 TSN3D) names -> ours, applied after ``module.`` is dropped; the first match wins.
_REFERENCE_RENAMES = (
    (r"^backbone\.att_layer4\.", "attention.layers."),
    (r"^backbone\.bn_att\.", "attention.bn."),
    (r"^backbone\.att_conv\.", "attention.class_conv."),
    (r"^backbone\.bn_att2\.", "attention.class_bn."),
    (r"^backbone\.att_conv3\.", "attention.spatial_conv."),
    (r"^backbone\.bn_att3\.", "attention.spatial_bn."),
    (r"^backbone\.t_att_conv\.", "attention.temporal_conv."),
    (r"^backbone\.t_bn_att\.", "attention.temporal_bn."),
    (r"^backbone\.t_att_conv2\.", "attention.frame_conv."),
    (r"^backbone\.fc1\.", "attention.frame_fc1."),
    (r"^backbone\.fc2\.", "attention.frame_fc2."),
    (r"^backbone\.att_conv2\.", "attention.logit_conv."),
    (r"^necks\.att_head\.fc\.", "attention.fc."),
    (r"^backbone\.t_att_conv3\.", "fusion_conv."),
    (r"^backbone\.bn_att4\.", "fusion_bn."),
    (r"^backbone\.(conv1|bn1|layer[1-4])\.", r"\1."),
    (r"^cls_head\.fc_cls\.", "fc."),
)


def convert_reference_state_dict(state_dict: Mapping[str, torch.Tensor], variant: str,
                                  log: Callable[[str], None] = print, **overrides) -> dict[str, torch.Tensor]:
    """Map an MMAction v1 ST-ABN checkpoint (``backbone.*``, ``necks.*``, ``cls_head.*``; with or without
    ``module.``; or the whole ``{'meta', 'state_dict', 'optimizer'}`` file) to the keys of ``variant``.

    The reference's neck builds TPN modules it never runs (58,224,640 parameters in the training build, spec 1.5);
    their keys are dropped and ``log`` says how many. The attention classifier (``necks.att_head.fc``) is kept unless
    ``attention_classifier=False`` is among ``overrides`` (then dropped, and said). Missing ``num_batches_tracked``
    entries are filled with 0. Unknown keys raise ``ValueError``, as does an attention checkpoint for a baseline.
    """
    config = _config(variant, overrides)
    state = unwrap_state_dict(dict(state_dict))
    converted: dict[str, torch.Tensor] = {}
    dead_keys, dead_params, unknown = 0, 0, []
    for key, tensor in state.items():
        for pattern, replacement in _REFERENCE_RENAMES:
            name, found = re.subn(pattern, replacement, key)
            if found:
                break
        else:
            if key.startswith("necks."):  # TPN's modulation / fusion ops and Att_branch.convs: never run
                dead_keys += 1
                if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):
                    dead_params += tensor.numel()
                continue
            unknown.append(key)
            continue
        converted[name] = tensor
    if unknown:
        raise ValueError(f"keys not in the ST-ABN reference layout: {', '.join(unknown[:10])}"
                         f"{' ...' if len(unknown) > 10 else ''}")
    if dead_keys:
        log(f"convert_reference_state_dict: dropped {dead_keys} keys ({dead_params:,} parameters) of the TPN neck "
            f"modules the reference builds but never runs (no gradient reaches them; spec section 1.5)")
    if not config["attention"] and any(k.startswith(("attention.", "fusion_")) for k in converted):
        raise ValueError(f"the state dict holds ST-ABN attention-branch weights, which variant {variant!r} "
                         f"(no attention branch) does not have")
    if config["attention"] and not config.get("attention_classifier", True) and "attention.fc.weight" in converted:
        del converted["attention.fc.weight"], converted["attention.fc.bias"]
        log("convert_reference_state_dict: dropped the attention classifier (attention_classifier=False)")
    for name in list(converted):
        if name.endswith(".running_mean"):
            converted.setdefault(name.removesuffix("running_mean") + "num_batches_tracked",
                                 torch.tensor(0, dtype=torch.long))
    return converted


def _imagenet_may_lack(name: str) -> bool:
    """Our weights a torchvision ResNet file has no counterpart for (left at their initialisation)."""
    return name.startswith(("attention.", "fusion_", "fc.")) or name.endswith("num_batches_tracked")


def inflate_imagenet_resnet(model: STABN, path: str | Path, log: Callable[[str], None] = print) -> list[str]:
    """Initialise the ResNet part of ``model`` from a torchvision ResNet state-dict file, by module path, as the
    reference: each 2D kernel is repeated along time and divided by the temporal kernel size (3 for the 3x1x1
    convs of stages 3 and 4), BN weights and statistics copied. The attention branch, the fusion conv and the
    classifier have no ImageNet counterpart and keep their initialisation (spec Q12). Unlike the reference's
    ``strict=False``, raises ``CheckpointError`` if a file key is unused or has another shape. Returns the keys left
    at their initialisation.
    """
    if not Path(path).is_file():
        raise CheckpointError(
            f"ImageNet ResNet weights not found: {path}. Nothing is downloaded at run time; fetch e.g. "
            "https://download.pytorch.org/models/resnet50-19c8e357.pth (the reference's) once and pass its path.")
    own = model.state_dict()
    weights = {}
    for key, tensor in unwrap_state_dict(load_checkpoint(path)).items():
        if key.startswith("fc."):
            continue
        if key in own and tensor.dim() == 4 and own[key].dim() == 5:
            kernel_t = own[key].shape[2]
            tensor = tensor.unsqueeze(2).expand(-1, -1, kernel_t, -1, -1) / kernel_t  # [O, I, kt, kh, kw]
        weights[key] = tensor
    load_state_dict_verbose(model, weights, strict=True, log=log, ignore_missing=_imagenet_may_lack)
    log(f"ImageNet init from {path}: {len(weights)} tensors inflated")
    return [k for k in own if k not in weights]


# --------------------------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------------------------

_SPEC = "shared/specs/st_abn.md section 3 (reference code 9b0f68d, fvcore, one clip)"
_R50 = dict(depths=(3, 4, 6, 3), width=64)

VARIANTS = variant_table(
    Variant("st_abn_r50", arch=dict(_R50, attention=True), num_classes=174, num_frames=32, input_size=224,
            reference_params=113_890_568, reference_gflops=310.06, params=55_665_928, gflops=309.87, source=_SPEC,
            notes="params: the reference registers 58,224,640 parameters of TPN-neck modules it never runs; ours "
                  "are its live parameters (54,696,922 with attention_classifier=False, its test build). GFLOPs: "
                  "the reference always runs the attention-classifier conv, as forward_with_attention does "
                  "(310.06); model(x) skips it (309.87)."),
    Variant("slowonly_r50", arch=dict(_R50, attention=False), num_classes=174, num_frames=32, input_size=224,
            params=31_991_022, gflops=167.67,
            source="the ST-ABN backbone without its attention branch, the paper's baseline; no reference config "
                   "or model: the counts are the reference's stem + layer1-4 + classifier (spec 3.1, 3.2)"),
    Variant("st_abn_tiny", arch=dict(depths=(1, 1, 1, 1), width=8, attention=True), num_classes=10, num_frames=8,
            input_size=64, paper=False, source="not from the paper: tests, CI and the CPU demo"),
)

_OPTIONS = ("attention_classifier", "dropout", "attention_dropout", "checkpointing", "training_outputs")


def _config(variant: str, overrides: Mapping[str, object]) -> dict:
    cfg = lookup(VARIANTS, variant, "st_abn")
    unknown = set(overrides) - set(_OPTIONS)
    if unknown:
        raise TypeError(f"unknown options for {variant}: {sorted(unknown)}; valid: {', '.join(_OPTIONS)}")
    if not cfg.arch["attention"] and overrides.get("attention_classifier"):
        raise ValueError(f"{variant} has no attention branch, hence no attention classifier")
    return {**cfg.arch, **overrides}


def build_model(variant: str, num_classes: int | None = None, *, num_frames: int | None = None,
                pretrained: str | Path | None = None, **overrides) -> STABN:
    """Build a variant (``num_classes`` / ``num_frames`` default to the variant's: 174 and 32 for the R50s).

    ``overrides``: ``attention_classifier`` (default True; False gives the reference's inference build),
    ``dropout``, ``attention_dropout`` (both 0.5), ``checkpointing`` (default False; the reference's configs use
    it), ``training_outputs`` (default False; see ``STABN``). ``pretrained``: a torchvision ImageNet ResNet file,
    inflated into the backbone.
    """
    cfg = lookup(VARIANTS, variant, "st_abn")
    config = _config(variant, overrides)
    if not config["attention"]:
        config["attention_classifier"] = False
    model = STABN(cfg.num_classes if num_classes is None else num_classes,
                  cfg.num_frames if num_frames is None else num_frames, **config)
    if pretrained is not None:
        inflate_imagenet_resnet(model, pretrained)
    return model
