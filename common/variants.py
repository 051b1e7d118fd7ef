"""One variant table per model file (timm's ``default_cfg`` idea), the same shape in every project.

A project's ``model.py`` declares its named configurations once::

    VARIANTS = variant_table(
        Variant("masnet_r50", arch=dict(depths=(3, 4, 6, 3)), num_classes=174, num_frames=8, input_size=224,
                reference_params=26_065_732, reference_gflops=33.55, source="spec section 3"),
        Variant("masnet_tiny", arch=dict(depths=(1, 1, 1, 1), width=16), num_classes=10, num_frames=8,
                input_size=64, paper=False, source="not from the paper: tests and the CPU demo"),
    )

and its ``build_model(variant, num_classes, *, num_frames=None, **overrides)`` starts with
``cfg = lookup(VARIANTS, variant, "masnet")``, so every project refuses an unknown name with the same error, which
lists the valid ones. The entry points take preprocessing (mean/std, crop, clip length) from the table; the
benchmarks and CI take the input shape and the reference's parameter and GFLOP counts from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF_MEAN = (0.5, 0.5, 0.5)
HALF_STD = (0.5, 0.5, 0.5)


class UnknownVariantError(KeyError, ValueError):
    """A variant name the project does not define (a ``KeyError`` and a ``ValueError`` for older callers)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


@dataclass(frozen=True)
class Variant:
    """Everything known about one named configuration of a model.

    Args:
        name: the public name (``build_model(name, ...)``, ``--variant name``).
        arch: keyword arguments of the project's model class or config that define the architecture.
        num_classes: the classifier size the paper / released weights use; a tuple for models with several heads
            (e.g. EPIC-Kitchens verbs and nouns).
        num_frames: clip length T the variant is defined (and counted) at.
        input_size: square crop side at which the variant is defined (and counted).
        mean, std: per-channel normalisation of a clip scaled to [0, 1].
        reference_params, reference_gflops: the reference implementation's counts at ``input_shape`` (fvcore,
            one clip, 1 multiply-add = 1 FLOP); None for variants that are not from the paper.
        params, gflops: this implementation's counts where they deliberately differ from the reference's (say why
            in ``notes``); None means "the reference's". The model zoo checks ours against these.
        source: where the reference counts come from, or why the variant exists.
        paper: False for the small variants of tests, CI and demos.
        notes: free-form facts the project documents (e.g. why our count differs from the reference's).
    """

    name: str
    arch: Mapping[str, Any] = field(default_factory=dict)
    num_classes: int | tuple[int, ...] = 400
    num_frames: int = 8
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    reference_params: int | None = None
    reference_gflops: float | None = None
    params: int | None = None
    gflops: float | None = None
    source: str = ""
    paper: bool = True
    notes: str = ""

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(C, T, H, W)`` of one clip at the variant's defining size."""
        return (3, self.num_frames, self.input_size, self.input_size)

    @property
    def expected_params(self) -> int | None:
        """The parameter count this implementation should have (ours where documented, else the reference's)."""
        return self.params if self.params is not None else self.reference_params

    @property
    def expected_gflops(self) -> float | None:
        """The GFLOPs this implementation should measure (ours where documented, else the reference's)."""
        return self.gflops if self.gflops is not None else self.reference_gflops


def variant_table(*variants: Variant) -> dict[str, Variant]:
    """A name -> ``Variant`` dict in declaration order; refuses duplicate names."""
    table: dict[str, Variant] = {}
    for variant in variants:
        if variant.name in table:
            raise ValueError(f"variant {variant.name!r} is declared twice")
        table[variant.name] = variant
    return table


def lookup(table: Mapping[str, Variant], name: str, project: str) -> Variant:
    """The variant called ``name``, or :class:`UnknownVariantError` listing the valid names."""
    try:
        return table[name]
    except KeyError:
        raise UnknownVariantError(f"unknown {project} variant {name!r}; valid variants: "
                                  f"{', '.join(table)}") from None
