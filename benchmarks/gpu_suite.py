"""Every GPU figure of the project in one short, prepared run: `bash benchmarks/gpu_suite.sh` (see README.md).

    bash benchmarks/prepare_gpu_suite.sh        # here, with network: wheels into .whl/, reference code into .refs/
    bash benchmarks/gpu_suite.sh                # on the GPU machine: ~8 minutes, writes results/gpu_<device>.{md,json}
    bash benchmarks/gpu_suite.sh --dry-run      # anywhere: every step at tiny sizes on the CPU (what make test runs)

Each step is a subprocess with its own time cap, so one crash, hang or out-of-memory error costs that step only;
the suite goes on and records why a step failed. Steps, most important first (the run stops starting new ones
when ``--budget-s`` is spent): the GPU-only tests; trajectory-attention kernels against the original layer; the
main variant of every project against its reference code at fp32 and bf16; the largest training batch that fits;
then channels-last and ``torch.compile``. Ratios (ours / reference) are computed from rows of the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.attention_kernels import COLUMNS as ATTENTION_COLUMNS
from benchmarks.environment import RESULTS_DIR, format_table, machine_info
from benchmarks.registry import iter_variants

ROOT = Path(__file__).resolve().parents[1]
REFS = ROOT / ".refs"  # git-ignored reference checkouts, one folder per project (prepare_gpu_suite.sh)
SPEED_COLUMNS = ("project", "variant", "impl", "amp", "channels_last", "compile", "batch", "train_clips/s",
                 "infer_clips/s", "train_peak_MiB", "gflops", "train_mfu", "infer_mfu", "max_train_batch", "error")
RATIO_COLUMNS = ("project", "variant", "amp", "train_speedup", "infer_speedup", "train_memory_ratio")
STEP_COLUMNS = ("step", "status", "seconds", "note")


@dataclass
class Step:
    """One subprocess of the suite: its command, time cap and the JSON file it writes (if any)."""

    name: str
    command: list[str]
    cap_s: float
    result: Path | None = None
    status: str = "not run"
    seconds: float = 0.0
    note: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


def main_variants(dry_run: bool) -> dict[str, str]:
    """Project -> the variant the suite measures: ``MAIN_VARIANT`` of the project package, else its first paper
    variant; in a dry run, its first tiny variant."""
    chosen: dict[str, str] = {}
    for spec in iter_variants(paper=not dry_run):
        if spec.project in chosen:
            continue
        main = None if dry_run else getattr(spec.module, "MAIN_VARIANT", None)
        chosen[spec.project] = main or spec.variant.name
    return chosen


def plan(args: argparse.Namespace, work: Path) -> list[Step]:
    """The suite's steps in priority order."""
    py, dry = [sys.executable, "-m"], args.dry_run
    device = ["--device", "cpu" if dry else "cuda"]
    steps = [Step("gpu_tests", py + ["pytest", "-q", "-p", "no:cacheprovider", "tests/kernels", "-k",
                                     "cuda or gpu or triton"], 300 if dry else 150)]
    attention = py + ["benchmarks.attention_kernels", *device, "--out", str(work)]
    attention += ["--tiny"] if dry else ["--sizes", "16x224", "32x224", "--dtypes", "fp32", "bf16", "--modes",
                                         "fwd+bwd", "--batch", str(args.attention_batch)]
    if not dry and (REFS / "motionformer").is_dir():
        attention += ["--reference-checkout", str(REFS / "motionformer")]
    result = work / ("attention_kernels_cpu_tiny.json" if dry else "attention_kernels_cuda.json")
    steps.append(Step("attention_kernels", attention, 300 if dry else 150, result))

    speed = dict(warmup=1 if dry else 3, iters=1 if dry else 5, batch=2 if dry else args.batch_size)
    configs = [("off", False, False, True), ("bf16", False, False, True), ("bf16", True, False, False),
               ("bf16", True, True, False)]
    variants = main_variants(dry)
    # On the GPU each project runs alone (its own time cap; a hang costs one row); a dry run takes all at once.
    groups = [{project: variant} for project, variant in variants.items()] if not dry else [variants]
    for amp, channels_last, compiled, with_reference in configs:
        if compiled and dry:
            continue  # compiling needs minutes on a CPU; the GPU run covers it
        for group in groups:
            label = next(iter(group)) if len(group) == 1 else "all"
            name = f"speed_{label}_{amp}{'_cl' if channels_last else ''}{'_compile' if compiled else ''}"
            command = py + ["benchmarks.model_speed", *device, "--projects", *group, "--variants", *group.values(),
                            "--amp", amp, "--batch-size", str(speed["batch"]), "--warmup", str(speed["warmup"]),
                            "--iters", str(speed["iters"]), "--mfu", "--out", str(work), "--name", name]
            command += ["--channels-last"] if channels_last else []
            command += ["--compile"] if compiled else []
            command += ["--threads", "1", "--tiny"] if dry else []
            if amp == "off" and not compiled:
                command += ["--max-batch", str(4 if dry else args.max_batch)]
            if with_reference and not dry and (REFS / label).is_dir():
                command += ["--reference-checkout", str(REFS / label)]
            # A dry run's caps only catch hangs: on a loaded CI machine its tiny steps take minutes of wall time.
            steps.append(Step(name, command, 300 if dry else 120 if compiled else 60, work / f"{name}.json"))
    return steps


def run_step(step: Step, deadline: float, env: dict[str, str]) -> None:
    """Run one step within its cap and the suite's deadline; keep its rows and why it failed, if it did."""
    left = deadline - time.monotonic()
    if left < 5:
        step.status, step.note = "skipped", "the suite's time budget was spent"
        return
    start = time.monotonic()
    try:
        done = subprocess.run(step.command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=min(step.cap_s, left))
        step.status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
        if done.returncode != 0:
            step.note = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1][:200] if (
                done.stderr.strip() or done.stdout.strip()) else ""
    except subprocess.TimeoutExpired:
        step.status, step.note = "timeout", f"stopped at its {min(step.cap_s, left):.0f} s cap"
    step.seconds = time.monotonic() - start
    if step.result is not None and step.result.is_file():
        step.rows = json.loads(step.result.read_text())["rows"]


def speed_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ours against the reference at the same precision, from rows of this run (plain layout, no compile)."""
    def key(row: dict[str, Any]) -> tuple:
        return row["project"], row["variant"], row["amp"]

    plain = [r for r in rows if not r.get("channels_last") and not r.get("compile") and "error" not in r]
    reference = {key(r): r for r in plain if r["impl"] == "reference"}
    ratios = []
    for ours in (r for r in plain if r["impl"] == "ours"):
        theirs = reference.get(key(ours))
        if theirs is None:
            continue
        ratio: dict[str, Any] = {"project": ours["project"], "variant": ours["variant"], "amp": ours["amp"]}
        for column, name in (("train_clips/s", "train_speedup"), ("infer_clips/s", "infer_speedup")):
            if ours.get(column) and theirs.get(column):
                ratio[name] = ours[column] / theirs[column]
        if ours.get("train_peak_MiB") and theirs.get("train_peak_MiB"):
            ratio["train_memory_ratio"] = theirs["train_peak_MiB"] / ours["train_peak_MiB"]
        ratios.append(ratio)
    return ratios


def device_slug(info: dict[str, Any], dry_run: bool) -> str:
    name = "cpu_dry_run" if dry_run else str(info.get("gpu", "unknown_gpu"))
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def driver_version() -> str:
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
        return done.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "no nvidia-smi"


def write_report(steps: list[Step], out: Path, dry_run: bool, budget_s: float) -> Path:
    """``gpu_<device>.md`` and ``.json``: environment, what each step did, and every table with its ratios."""
    info = machine_info()
    info["driver"] = "-" if dry_run else driver_version()
    try:
        import triton
        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = "not installed"
    attention = [row for step in steps if step.name == "attention_kernels" for row in step.rows]
    speed = [row for step in steps if step.name.startswith("speed_") for row in step.rows]
    ratios = speed_ratios(speed)
    summary = [{"step": s.name, "status": s.status, "seconds": round(s.seconds, 1), "note": s.note} for s in steps]
    slug = device_slug(info, dry_run)
    out.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "gpu_suite", "machine": info, "dry_run": dry_run, "budget_s": budget_s, "steps": summary,
              "attention_kernels": attention, "model_speed": speed, "ratios": ratios}
    (out / f"gpu_{slug}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    lines = [f"# GPU suite: {info.get('gpu', 'CPU dry run')}", "",
             f"torch {info.get('torch')}, CUDA {info.get('cuda', '-')}, driver {info['driver']}, triton "
             f"{info['triton']}; taken {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
             f"`bash benchmarks/gpu_suite.sh{' --dry-run' if dry_run else ''}` in one run of {budget_s:.0f} s budget.",
             "", "## Steps", "", format_table(summary, STEP_COLUMNS, markdown=True), "",
             "## Trajectory attention (ours per backend against the original Motionformer layer)", "",
             format_table(attention, ATTENTION_COLUMNS, markdown=True) if attention else "no rows", "",
             "## Main variant of every project (MFU: fvcore FLOPs x 3 for training / time / the device's dense peak)",
             "", format_table(speed, SPEED_COLUMNS, markdown=True) if speed else "no rows", "",
             "## Ours against the reference code, same run, same precision", "",
             format_table(ratios, RATIO_COLUMNS, markdown=True) if ratios else "no reference rows (.refs/ empty?)",
             ""]
    path = out / f"gpu_{slug}.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bash benchmarks/gpu_suite.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="every step at tiny sizes on the CPU")
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop starting steps after this many seconds")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for gpu_<device>.{md,json} (default: results/, dry run: results/_tiny)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per step in the speed runs")
    parser.add_argument("--attention-batch", type=int, default=4, help="batch of the attention kernel runs")
    parser.add_argument("--max-batch", type=int, default=256, help="upper bound of the largest-batch search")
    args = parser.parse_args(argv)
    out = args.out or (RESULTS_DIR / "_tiny" if args.dry_run else RESULTS_DIR)
    work = out / "gpu_suite_steps"
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.dry_run:
        env["CUDA_VISIBLE_DEVICES"] = ""
    deadline = time.monotonic() + args.budget_s
    steps = plan(args, work)
    for step in steps:
        run_step(step, deadline, env)
        print(f"[gpu_suite] {step.name}: {step.status} in {step.seconds:.1f} s {step.note}", flush=True)
    path = write_report(steps, out, args.dry_run, args.budget_s)
    print(f"[gpu_suite] wrote {path} and {path.with_suffix('.json')}")
    return 0 if all(step.status == "ok" for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
