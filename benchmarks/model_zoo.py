"""Parameters and fvcore GFLOPs of every registered variant at the paper's input, next to the reference numbers.

    python -m benchmarks.model_zoo                 # every variant; writes benchmarks/results/model_zoo.{json,md}
    python -m benchmarks.model_zoo --tiny --out /tmp/zoo   # CI: parameters of all variants, FLOPs of tiny ones

Parameters are counted on the ``meta`` device (no memory, no init time) so even the largest variant is cheap;
FLOPs need a real traced forward pass at batch 1 and are the slow part on a CPU.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from benchmarks.environment import format_table, results_dir, torch_cpu_settings, write_json, write_markdown
from benchmarks.registry import VariantSpec, iter_variants
from common.engine.model_info import count_flops, count_parameters

COLUMNS = ("project", "variant", "input", "params_M", "ref_params_M", "params_diff_%", "gflops", "ref_gflops",
           "gflops_diff_%", "check", "source")
PARAM_TOLERANCE_PCT = 0.5  # released models match exactly; this absorbs rounding of the published numbers
FLOP_TOLERANCE_PCT = 1.0  # fvcore versions differ slightly in which ops they count


def _relative_difference_pct(ours: float | None, reference: float | None) -> float | None:
    if ours is None or reference in (None, 0):
        return None
    return round(100.0 * (ours - reference) / reference, 3)


def count_variant_parameters(spec: VariantSpec) -> int:
    """Parameter count of the variant, built on the meta device when the model allows it."""
    try:
        with torch.device("meta"):
            model = spec.build()
    except (RuntimeError, NotImplementedError):
        model = spec.build()  # some constructors read tensor values; fall back to a real build
    return count_parameters(model)


def measure_variant(spec: VariantSpec, with_flops: bool) -> dict[str, Any]:
    """One table row: ours vs the reference numbers; ``error`` holds a failure instead of raising."""
    variant = spec.variant
    row: dict[str, Any] = {
        "project": spec.project,
        "variant": variant.name,
        "paper": spec.is_paper,
        "input": "x".join(str(v) for v in spec.input_shape),
        "ref_params": variant.reference_params,
        "ref_params_M": None if variant.reference_params is None else variant.reference_params / 1e6,
        "ref_gflops": variant.reference_gflops,
        "source": variant.source,
        "expected_params": variant.expected_params,
        "expected_gflops": variant.expected_gflops,
    }
    try:
        params = count_variant_parameters(spec)
        row["params"] = params
        row["params_M"] = params / 1e6
        row["params_diff_%"] = _relative_difference_pct(params, variant.reference_params)
        if with_flops:
            start = time.perf_counter()
            model = spec.build().eval()
            with torch.no_grad():
                row["gflops"] = count_flops(model, torch.zeros((1, *spec.input_shape)))
            row["gflops_diff_%"] = _relative_difference_pct(row["gflops"], row["ref_gflops"])
            row["flop_seconds"] = round(time.perf_counter() - start, 2)
    except Exception as error:  # one broken variant must not hide the others' numbers
        row["error"] = f"{type(error).__name__}: {error}"
    return row


def row_problems(row: dict[str, Any], tolerance_pct: float = PARAM_TOLERANCE_PCT) -> list[str]:
    """A failed build, or a paper variant whose parameters (or FLOPs, where measured) are off what is expected."""
    name = f"{row['project']}/{row['variant']}"
    if "error" in row:
        return [f"{name}: {row['error']}"]
    if not row.get("paper"):
        return []
    problems = []
    expected_params = row.get("expected_params")
    if expected_params and abs(row["params"] - expected_params) > tolerance_pct / 100 * expected_params:
        problems.append(f"{name}: {row['params']:,} parameters, expected {expected_params:,} "
                        f"({100 * (row['params'] - expected_params) / expected_params:+.2f}%)")
    expected_gflops = row.get("expected_gflops")
    if row.get("gflops") is not None and expected_gflops and (
            abs(row["gflops"] - expected_gflops) > FLOP_TOLERANCE_PCT / 100 * expected_gflops):
        problems.append(f"{name}: {row['gflops']:.2f} GFLOPs, expected {expected_gflops:.2f} "
                        f"({100 * (row['gflops'] - expected_gflops) / expected_gflops:+.2f}%)")
    return problems


def mismatches(rows: list[dict[str, Any]], tolerance_pct: float = PARAM_TOLERANCE_PCT) -> list[str]:
    return [problem for row in rows for problem in row_problems(row, tolerance_pct)]


def check_label(row: dict[str, Any]) -> str:
    """The table's verdict: ``ok``, ``ok (documented)`` where the project states why it differs from the
    reference, ``MISMATCH``, or ``-`` for tiny variants."""
    if row_problems(row):
        return "MISMATCH"
    if not row.get("paper"):
        return "-"
    documented = (row.get("expected_params") != row.get("ref_params")
                  or (row.get("gflops") is not None and row.get("expected_gflops") != row.get("ref_gflops")))
    return "ok (documented)" if documented else "ok"


ZOO_NOTES = ("FLOPs: fvcore at batch 1 and the paper's input (C x T x H x W), one multiply-add = one FLOP, for one "
             "view; multiply by the number of test views for the per-video cost. Differences are ours minus "
             "reference, relative to the reference. Where a project deliberately differs from the reference (see "
             "`source` and the project README), the check is against the project's documented expectation "
             "(`expected_params` / `expected_gflops` in the JSON), marked `ok (documented)`, and the difference "
             "column still shows the gap to the reference. Tolerances: parameters 0.5%, FLOPs 1%.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_zoo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="CI mode: parameters of every variant, FLOPs of the tiny (non-paper) variants only")
    parser.add_argument("--projects", nargs="*", help="restrict to these projects")
    parser.add_argument("--variants", nargs="*", help="restrict to these variant names")
    parser.add_argument("--no-flops", action="store_true", help="count parameters only")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for model_zoo.{json,md} (default: results/; results/_tiny with --tiny)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    args.out = results_dir(args.out, args.tiny)
    specs = list(iter_variants(args.projects, args.variants))
    if not specs:
        parser.error("no registered variant matches the filters")
    rows = []
    with torch_cpu_settings(args.threads):
        for spec in tqdm(specs, desc="model zoo", unit="variant", file=sys.stderr):
            with_flops = not args.no_flops and (not args.tiny or not spec.is_paper)
            rows.append(measure_variant(spec, with_flops))
            rows[-1]["check"] = check_label(rows[-1])
    settings = {"tiny": args.tiny, "flops": not args.no_flops, "batch": 1, "flop_counter": "fvcore"}
    print(format_table(rows, COLUMNS))
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "model_zoo.json", "model_zoo", settings, rows)
    write_markdown(args.out / "model_zoo.md", "Model zoo: parameters and FLOPs vs reference", settings, rows,
                   COLUMNS, ZOO_NOTES)
    problems = mismatches(rows)
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
