"""The registered projects and variants the benchmarks and CI iterate over, and how to build one of them.

Everything cross-project goes through ``projects.implemented_projects()`` and each project's ``VARIANT_INFO`` so a
new project is benchmarked and regression-checked by registering itself, with no per-project code here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Iterator, Sequence

import torch

from projects import implemented_projects

REQUIRED_INFO_KEYS = ("input_shape", "num_classes", "build_kwargs", "paper")


@dataclass(frozen=True)
class VariantSpec:
    """One registered variant with the facts its project publishes about it."""

    project: str
    variant: str
    module: ModuleType = field(repr=False, compare=False)
    info: dict[str, Any] = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.project}/{self.variant}"

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(C, T, H, W) at which the paper reports the model."""
        return tuple(int(v) for v in self.info["input_shape"])

    @property
    def num_classes(self) -> int:
        return int(self.info["num_classes"])

    @property
    def is_paper(self) -> bool:
        return bool(self.info.get("paper", True))

    def build(self, num_classes: int | None = None, **overrides: Any) -> torch.nn.Module:
        """The project's model with its registered build kwargs, then ``overrides`` on top."""
        kwargs = {**dict(self.info.get("build_kwargs", {})), **overrides}
        classes = self.num_classes if num_classes is None else num_classes
        return self.module.build_model(self.variant, classes, **kwargs)


def iter_variants(
    projects: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    paper: bool | None = None,
) -> Iterator[VariantSpec]:
    """Registered variants in registry order, filtered by project name, variant name and paper/tiny flag."""
    for project, module in implemented_projects().items():
        if projects and project not in projects:
            continue
        info_table = getattr(module, "VARIANT_INFO", None)
        if info_table is None:
            raise ValueError(f"project {project!r} exports VARIANTS but no VARIANT_INFO (see projects/__init__.py)")
        for variant in module.VARIANTS:
            if variants and variant not in variants:
                continue
            info = info_table.get(variant)
            if info is None:
                raise ValueError(f"project {project!r}: variant {variant!r} is in VARIANTS but not in VARIANT_INFO")
            missing = [key for key in REQUIRED_INFO_KEYS if key not in info]
            if missing:
                raise ValueError(f"project {project!r}: VARIANT_INFO[{variant!r}] lacks {missing}")
            spec = VariantSpec(project, variant, module, info)
            if paper is not None and spec.is_paper != paper:
                continue
            yield spec


def example_clip(shape: Sequence[int], batch: int = 1, seed: int = 0,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """A fixed normalised-looking clip ``float [B, C, T, H, W]`` from a seeded generator (same on every machine)."""
    generator = torch.Generator().manual_seed(seed)
    clip = torch.randn((batch, *shape), generator=generator)  # [B, C, T, H, W]
    return clip.to(device)


def classification_loss(logits: torch.Tensor | dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for one head, or the sum over heads for models that return a dict of logits."""
    if isinstance(logits, dict):
        return sum(torch.nn.functional.cross_entropy(head, labels % head.shape[-1]) for head in logits.values())
    return torch.nn.functional.cross_entropy(logits, labels)
