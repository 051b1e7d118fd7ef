"""The shared variant-table shape: duplicate names refused, unknown names listed, expected counts."""
from __future__ import annotations

import pytest

from common.variants import UnknownVariantError, Variant, lookup, variant_table


def test_table_keeps_order_refuses_duplicates_and_lists_valid_names() -> None:
    table = variant_table(Variant("b", num_frames=4, input_size=32), Variant("a", paper=False))
    assert list(table) == ["b", "a"] and table["b"].input_shape == (3, 4, 32, 32)
    with pytest.raises(ValueError, match="declared twice"):
        variant_table(Variant("a"), Variant("a"))
    with pytest.raises(UnknownVariantError, match="unknown demo variant 'c'; valid variants: b, a") as error:
        lookup(table, "c", "demo")
    assert isinstance(error.value, KeyError) and isinstance(error.value, ValueError)


def test_expected_counts_fall_back_to_the_reference() -> None:
    same = Variant("x", reference_params=10, reference_gflops=1.5)
    differs = Variant("y", reference_params=10, reference_gflops=1.5, params=8, gflops=1.0)
    assert (same.expected_params, same.expected_gflops) == (10, 1.5)
    assert (differs.expected_params, differs.expected_gflops) == (8, 1.0)
