"""The registered projects and variants the benchmarks and CI iterate over, and how to build one of them.

Everything cross-project goes through ``projects.implemented_projects()`` and each project's ``VARIANTS`` table
(``common.variants.Variant``: input shape, classes, reference counts), so a new project is benchmarked and
regression-checked by registering itself, with no per-project code here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Iterator, Sequence

import torch

from common.variants import Variant
from projects import implemented_projects


@dataclass(frozen=True)
class VariantSpec:
    """One registered variant: its project and its ``Variant`` table entry."""

    project: str
    variant: Variant
    module: ModuleType = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"{self.project}/{self.variant.name}"

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(C, T, H, W) at which the paper reports the model."""
        return self.variant.input_shape

    @property
    def num_classes(self) -> int:
        """Classes of the (first) head: what a label indexes (heads of several-head models are wrapped)."""
        classes = self.variant.num_classes
        return int(classes[0] if isinstance(classes, tuple) else classes)

    @property
    def is_paper(self) -> bool:
        return self.variant.paper

    def accepts(self, option: str) -> bool:
        """Whether the variant's table entry declares ``option`` (e.g. ``attn_backend``) among its model arguments."""
        return option in self.variant.arch

    def build(self, num_classes: int | None = None, **overrides: Any) -> torch.nn.Module:
        """The project's model at the variant's defaults (its own classes unless ``num_classes``), ``overrides`` on
        top."""
        return self.module.build_model(self.variant.name, num_classes, **overrides)


def iter_variants(
    projects: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    paper: bool | None = None,
) -> Iterator[VariantSpec]:
    """Registered variants in registry order, filtered by project name, variant name and paper/tiny flag."""
    for project, module in implemented_projects().items():
        if projects and project not in projects:
            continue
        table = module.VARIANTS
        if not isinstance(table, dict) or not all(isinstance(v, Variant) for v in table.values()):
            raise ValueError(f"project {project!r}: VARIANTS must be a common.variants.variant_table(...)")
        for variant in table.values():
            if variants and variant.name not in variants:
                continue
            if paper is not None and variant.paper != paper:
                continue
            yield VariantSpec(project, variant, module)


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
