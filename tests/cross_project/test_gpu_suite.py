"""The GPU suite's dry run (every step at tiny sizes on the CPU) so the one-shot GPU measurement cannot rot."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import gpu_suite
from benchmarks.environment import peak_tflops
from benchmarks.registry import iter_variants

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dry_run_runs_every_step_and_writes_the_report(tmp_path):
    done = subprocess.run(["bash", "benchmarks/gpu_suite.sh", "--dry-run", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((tmp_path / "gpu_cpu_dry_run.json").read_text())
    assert [s["step"] for s in record["steps"]] == ["gpu_tests", "attention_kernels", "speed_all_off",
                                                    "speed_all_bf16", "speed_all_bf16_cl"]
    assert {s["status"] for s in record["steps"]} == {"ok"}
    assert record["attention_kernels"] and not any("error" in row for row in record["attention_kernels"])
    projects = {spec.project for spec in iter_variants(paper=False)}
    measured = {(row["project"], row["amp"], row["channels_last"]) for row in record["model_speed"]
                if row.get("train_clips/s", 0) > 0 and row.get("gflops", 0) > 0}
    assert measured == {(p, amp, cl) for p in projects for amp, cl in (("off", False), ("bf16", False),
                                                                       ("bf16", True))}
    assert all(row["max_train_batch"] == 4 for row in record["model_speed"] if row["amp"] == "off")
    report = (tmp_path / "gpu_cpu_dry_run.md").read_text()
    assert "## Trajectory attention" in report and "| speed_all_bf16_cl | ok |" in report


def test_ratios_pair_ours_with_the_reference_at_the_same_precision_only():
    rows = [{"project": "p", "variant": "v", "impl": "ours", "amp": "bf16", "train_clips/s": 30.0,
             "infer_clips/s": 90.0, "train_peak_MiB": 1000.0},
            {"project": "p", "variant": "v", "impl": "reference", "amp": "bf16", "train_clips/s": 20.0,
             "infer_clips/s": 60.0, "train_peak_MiB": 4000.0},
            {"project": "p", "variant": "v", "impl": "reference", "amp": "off", "train_clips/s": 5.0},
            {"project": "p", "variant": "v", "impl": "ours", "amp": "bf16", "channels_last": True,
             "train_clips/s": 99.0}]
    assert gpu_suite.speed_ratios(rows) == [{"project": "p", "variant": "v", "amp": "bf16", "train_speedup": 1.5,
                                            "infer_speedup": 1.5, "train_memory_ratio": 4.0}]


def test_step_timeouts_and_failures_are_recorded_and_the_suite_goes_on(tmp_path):
    slow = gpu_suite.Step("slow", [sys.executable, "-c", "import time; time.sleep(30)"], cap_s=1)
    failing = gpu_suite.Step("failing", [sys.executable, "-c", "raise SystemExit('broken on purpose')"], cap_s=30)
    late = gpu_suite.Step("late", [sys.executable, "-c", "pass"], cap_s=30)
    for step, deadline in ((slow, time.monotonic() + 60), (failing, time.monotonic() + 60), (late, 0.0)):
        gpu_suite.run_step(step, deadline, {"PATH": "/usr/bin:/bin"})
    assert (slow.status, failing.status, late.status) == ("timeout", "exit 1", "skipped")
    assert "broken on purpose" in failing.note and "budget" in late.note


def test_peak_table_matches_device_names_and_precisions():
    assert peak_tflops("NVIDIA H200", "bf16") == 989.4 and peak_tflops("NVIDIA H200", "off") == 494.7
    assert peak_tflops("NVIDIA H100 PCIe", "bf16") == 756.0
    assert peak_tflops("Some Unknown GPU", "bf16") is None
