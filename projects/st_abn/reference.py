"""Build the reference ST-ABN from a local checkout, for parity and speed measurements only.

Never imported by tests or by the rest of the project: the reference code is not part of this repository. Point
``checkout`` at a clone of https://github.com/machine-perception-robotics-group/ST-ABN_PyTorch (outside this tree).
The reference needs mmcv 0.2.10 and a compiled extension; only three of its files are needed for the model
(``resnet_slow.py``, ``att_cls_head.py``, ``cls_head.py``), so they are executed here with the few mmcv helpers
they call (weight initialisers, an attribute dict for ``Config``) replaced by plain equivalents and their
package-relative imports removed. ``pretrained=None``: the reference keeps its own random initialisation.

    python -m projects.st_abn.reference --reference-checkout ~/src/ST-ABN_PyTorch --frames 8 --size 112 --batch 2

prints the largest differences between the reference and ``st_abn_r50`` given the same weights (eval mode).
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

import torch
from torch import nn

from projects.st_abn.model import build_model, convert_reference_state_dict

_FILES = {"backbone": "mmaction/models/tenons/backbones/resnet_slow.py",
          "neck": "mmaction/models/tenons/necks/att_cls_head.py",
          "head": "mmaction/models/tenons/cls_heads/cls_head.py"}


class _AttrDict(dict):
    """Stands in for ``mmcv.Config``: a dict with attribute access, nested."""

    def __init__(self, values: dict | None = None) -> None:
        super().__init__()
        for key, value in (values or {}).items():
            self[key] = _AttrDict(value) if isinstance(value, dict) else value

    __getattr__ = dict.__getitem__

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def _kaiming_init(module: nn.Module, mode: str = "fan_out", nonlinearity: str = "relu", bias: float = 0.0,
                  distribution: str = "normal") -> None:
    nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity=nonlinearity)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def _constant_init(module: nn.Module, value: float, bias: float = 0.0) -> None:
    nn.init.constant_(module.weight, value)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def _xavier_init(module: nn.Module, gain: float = 1.0, bias: float = 0.0, distribution: str = "normal") -> None:
    nn.init.xavier_uniform_(module.weight, gain=gain)  # the reference's calls all ask for 'uniform'
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


class _Registry:
    def register_module(self, cls: type) -> type:
        return cls


def _load(checkout: Path, relative: str) -> dict[str, Any]:
    source = (checkout / relative).read_text().splitlines()
    source = [line for line in source if not line.startswith(("from .", "from mmcv"))]
    namespace: dict[str, Any] = {
        "kaiming_init": _kaiming_init, "constant_init": _constant_init, "xavier_init": _xavier_init,
        "Config": _AttrDict, "BACKBONES": _Registry(), "NECKS": _Registry(), "HEADS": _Registry(),
        "rgetattr": lambda obj, attr: functools.reduce(getattr, [obj] + attr.split(".")), "rhasattr": None,
        "ResNet": None, "load_checkpoint": None, "build_nonlocal_block": None,
        "NonLocalModule": type("NonLocalModule", (nn.Module,), {})}
    exec(compile("\n".join(source), str(checkout / relative), "exec"), namespace)  # noqa: S102 (user's checkout)
    return namespace


class ReferenceSTABN(nn.Module):
    """The reference ``TSN3D`` of ``sthv1/st_abn_32`` (model values of that config), taking our clip layout.

    ``forward`` returns the perception logits; ``forward_with_attention`` the dict of ours (the reference's neck
    computes the attention logits only inside its loss; the same layers are applied here). For inputs other than
    32 x 224², the pools and the attention classifier the reference hard-codes for that size are resized (Q4).
    """

    def __init__(self, checkout: Path, num_frames: int = 32, input_size: int = 224) -> None:
        super().__init__()
        backbone, neck, head = (_load(checkout, _FILES[name]) for name in ("backbone", "neck", "head"))
        self.backbone = backbone["ResNet_SlowFast"](
            depth=50, pretrained=None, num_stages=4, out_indices=[3], frozen_stages=-1, inflate_freq=(0, 0, 1, 1),
            inflate_style="3x1x1", conv1_kernel_t=1, conv1_stride_t=1, pool1_kernel_t=1, pool1_stride_t=1,
            with_cp=True, bn_eval=False, partial_bn=False, style="pytorch", nsegments=num_frames)
        self.necks = neck["Att_head"](
            in_channels=[1024, 2048], out_channels=1024,
            spatial_modulation_config=dict(inplanes=[1024, 2048], planes=2048),
            temporal_modulation_config=dict(scales=(8, 8), param=dict(inplanes=-1, planes=-1, downsample_scale=-1)),
            upsampling_config=dict(scale=(1, 1, 1)),
            downsampling_config=dict(scales=(1, 1, 1), param=dict(inplanes=-1, planes=-1, downsample_scale=-1)),
            level_fusion_config=dict(in_channels=[1024, 1024], mid_channels=[1024, 1024], out_channels=2048,
                                     ds_scales=[(1, 1, 1), (1, 1, 1)]),
            att_head_config=dict(inplanes=-1, planes=174, loss_weight=0.5))
        self.cls_head = head["ClsHead"](with_avg_pool=False, temporal_feature_size=1, spatial_feature_size=1,
                                        dropout_ratio=0.5, in_channels=2048, num_classes=174)
        layer3 = input_size // 16
        self.pool = nn.AvgPool3d((num_frames, (layer3 + 1) // 2, (layer3 + 1) // 2), stride=1)
        if (num_frames, input_size) != (32, 224):
            self.backbone.t_att_gap = nn.AvgPool2d(layer3)
            self.backbone.att_gap = nn.AvgPool3d((1, layer3, layer3), stride=1)
            self.necks.att_head.fc = nn.Linear(174 * num_frames, 174)
        self.backbone.init_weights()
        self.necks.init_weights()
        self.cls_head.init_weights()

    def forward_with_attention(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        ax, rx, spatial, temporal = self.backbone(clips)
        attention_logits = self.necks.att_head.fc(self.necks.att_head.dropout(ax).flatten(1))
        logits = self.cls_head(self.pool(rx))  # one segment: the reference's consensus is the identity
        return {"logits": logits, "attention_logits": attention_logits,
                "spatial_attention": spatial, "temporal_attention": temporal}

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(clips)["logits"]


def build_reference_model(checkout: Path, variant: str, num_classes: int | None = None) -> nn.Module:
    """The benchmark hook (``benchmarks.model_speed --reference-checkout``): the reference ``st_abn_r50``."""
    checkout = Path(checkout).expanduser().resolve()
    if not (checkout / _FILES["backbone"]).is_file():
        raise FileNotFoundError(f"{checkout} is not a checkout of ST-ABN_PyTorch ({_FILES['backbone']} not found)")
    if variant != "st_abn_r50" or num_classes not in (None, 174):
        raise KeyError(f"the reference implements st_abn_r50 with 174 classes only, not {variant!r}/{num_classes}")
    return ReferenceSTABN(checkout)


def compare(checkout: Path, num_frames: int, input_size: int, batch: int, seed: int = 0) -> dict[str, float]:
    """Largest difference relative to the largest reference value, per output, ours vs the reference with the
    reference's weights (BN statistics calibrated on one random batch), eval mode."""
    torch.manual_seed(seed)
    reference = ReferenceSTABN(Path(checkout), num_frames, input_size)
    for module in reference.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 1.0
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        reference.train()(torch.randn(batch, 3, num_frames, input_size, input_size, generator=generator))
    reference.eval()
    ours = build_model("st_abn_r50", 174, num_frames=num_frames)
    ours.load_state_dict(convert_reference_state_dict(reference.state_dict(), "st_abn_r50"), strict=True)
    ours.eval()
    clips = torch.randn(batch, 3, num_frames, input_size, input_size, generator=generator)
    with torch.no_grad():
        expected, actual = reference.forward_with_attention(clips), ours.forward_with_attention(clips)
    return {name: float((actual[name] - value).abs().max() / value.abs().max()) for name, value in expected.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m projects.st_abn.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-checkout", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    for name, difference in compare(args.reference_checkout, args.frames, args.size, args.batch).items():
        print(f"{name:20s} max relative difference {difference:.2e}")


if __name__ == "__main__":
    main()
