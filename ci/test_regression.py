"""`make test` runs the regression checks of ``ci.regression`` for every registered tiny variant."""
from __future__ import annotations

import json

import pytest

from benchmarks.registry import iter_variants
from ci import regression

TINY_VARIANTS = list(iter_variants(paper=False))
IDS = [spec.name for spec in TINY_VARIANTS]


@pytest.mark.parametrize("spec", TINY_VARIANTS, ids=IDS)
def test_logits_match_golden(spec):
    problems = regression.check(spec)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("spec", TINY_VARIANTS, ids=IDS)
def test_few_step_training_lowers_loss(spec):
    problems = regression.check_training(spec)
    assert not problems, "\n".join(problems)


def test_every_project_has_a_tiny_variant():
    registered = {spec.project for spec in iter_variants()}
    with_tiny = {spec.project for spec in TINY_VARIANTS}
    assert registered <= with_tiny, f"projects without a tiny (paper=False) variant: {sorted(registered - with_tiny)}"


def test_no_stale_golden_files():
    stale = regression.stale_golden_files()
    assert not stale, f"golden files without a registered tiny variant (delete them or re-register): {stale}"


@pytest.mark.skipif(not TINY_VARIANTS, reason="no project registered yet")
def test_bless_then_check_round_trip_and_a_change_is_named(tmp_path):
    spec = TINY_VARIANTS[0]
    assert regression.check(spec, tmp_path)[0].startswith(f"{spec.name}: no golden file")
    path = regression.bless(spec, tmp_path)
    assert regression.check(spec, tmp_path) == []

    record = json.loads(path.read_text())
    head = next(iter(record["perturbed"]))
    record["perturbed"][head][0][0] += 0.5  # what a changed model looks like to the check
    path.write_text(json.dumps(record))
    problems = regression.check(spec, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{spec.name}: perturbed-weight logits {head} differ")
    assert path.name in problems[0] and "make bless" in problems[0]


def test_goldens_are_bit_stable_across_runs():
    if not TINY_VARIANTS:
        pytest.skip("no project registered yet")
    spec = TINY_VARIANTS[0]
    assert regression.compute_record(spec) == regression.compute_record(spec)
