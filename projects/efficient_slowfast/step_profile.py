"""CPU time of one training step, ours against the reference (``--reference-checkout``, never part of this
repository), interleaved in one process with the same weights, and the per-operator self CPU time of each.

    python -m projects.efficient_slowfast.step_profile --reference-checkout ~/Efficient-SlowFast --iters 6

A step is forward, cross-entropy, backward and an SGD (momentum 0.9) update on a fixed random clip. Both models start
from the same weights (the reference's, converted), so they stay equal step after step; the first step's losses
are printed as a check. Steps alternate between the two implementations (the first one swaps every round) and are
timed with ``time.process_time``: on a shared machine the wall clock of one process depends on what the others do,
its CPU time much less. With ``--threads 1`` CPU time is the step's compute. Then one more step of each runs under
``torch.profiler``, and the operators are listed by self CPU time side by side.

With ``--memory`` it measures instead the peak memory of one training step of each implementation, each in a fresh
process: the growth of the process's maximum resident set over its resident set just before the step (models,
weights and the clip already in memory).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

from projects.efficient_slowfast.models import build_model, convert_reference_state_dict
from projects.efficient_slowfast.reference import add_comparison_args, build_reference_model, peak_rss_bytes

IMPLEMENTATIONS = ("ours", "reference")


def build_pair(checkout: Path, variant: str, num_classes: int) -> dict[str, nn.Module]:
    """Ours and the reference's model of ``variant`` with the reference's initial weights in both."""
    torch.manual_seed(0)
    reference = build_reference_model(checkout, variant, num_classes)
    ours = build_model(variant, num_classes)
    ours.load_state_dict(convert_reference_state_dict(reference.reference.state_dict(), variant))
    return {"ours": ours.train(), "reference": reference.train()}


def make_step(model: nn.Module, clips: torch.Tensor, labels: torch.Tensor):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(clips), labels)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def operator_table(steps: dict[str, Any]) -> dict[str, dict[str, tuple[float, int]]]:
    """``{impl: {operator: (self CPU ms, calls)}}`` of one profiled step each."""
    table = {}
    for impl, step in steps.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        table[impl] = {event.key: (event.self_cpu_time_total / 1e3, event.count) for event in prof.key_averages()}
    return table


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def step_memory(impl: str, args: argparse.Namespace) -> dict[str, Any]:
    """One training step of ``impl`` in this process: peak MiB over the resident set before it, seconds, loss."""
    model = build_pair(args.reference_checkout, args.variant, args.num_classes)[impl]
    clips = torch.randn(args.batch_size, 3, args.frames, args.size, args.size,
                        generator=torch.Generator().manual_seed(1))  # [B, 3, T, S, S]
    step = make_step(model, clips, torch.arange(args.batch_size) % args.num_classes)
    torch.manual_seed(2)
    before = _rss_bytes()
    start = time.perf_counter()
    loss = step()
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    return {"impl": impl, "step_peak_MiB": (peak - before) / 2**20, "process_peak_MiB": peak / 2**20,
            "seconds": seconds, "loss": loss}


def memory_main(args: argparse.Namespace) -> int:
    """``--memory``: each implementation's training step in a child process, one after the other."""
    settings = ("reference_checkout", "variant", "frames", "size", "batch_size", "num_classes", "threads")
    child = [sys.executable, "-m", "projects.efficient_slowfast.step_profile"]
    for name in settings:
        child += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    rows = []
    for impl in IMPLEMENTATIONS:
        result = subprocess.run([*child, "--one", impl], capture_output=True, text=True)
        if result.returncode:
            rows.append({"impl": impl, "error": f"exit {result.returncode}: {result.stderr.strip()[-300:]}"})
        else:
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    if all("error" not in row for row in rows):
        ratio = rows[1]["step_peak_MiB"] / rows[0]["step_peak_MiB"]
        print(f"{args.variant} {args.frames}x{args.size} batch {args.batch_size}, fp32, one training step: reference "
              f"peak / ours = {ratio:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "steps": rows},
                                       indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projects.efficient_slowfast.step_profile",
                                     description=__doc__.split("\n\n")[0])
    add_comparison_args(parser)
    parser.add_argument("--iters", type=int, default=6, help="timed steps per implementation (after one warm-up)")
    parser.add_argument("--top", type=int, default=25, help="operators listed (by the larger self CPU time)")
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--memory", action="store_true",
                        help="peak memory of one training step of each implementation (fresh processes) instead")
    parser.add_argument("--one", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)  # the --memory child process
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # SGD momentum on random data decays into denormals, which are slow on CPU
    if args.one:
        print(json.dumps(step_memory(args.one, args)))
        return 0
    if args.memory:
        return memory_main(args)

    models = build_pair(args.reference_checkout, args.variant, args.num_classes)
    clips = torch.randn(args.batch_size, 3, args.frames, args.size, args.size,
                        generator=torch.Generator().manual_seed(1))  # [B, 3, T, S, S]
    labels = torch.arange(args.batch_size) % args.num_classes
    steps = {impl: make_step(model, clips, labels) for impl, model in models.items()}
    losses = {}
    for impl, step in steps.items():  # warm-up; the same dropout draws, so the same loss
        torch.manual_seed(2)
        losses[impl] = step()
    print(f"first-step loss: ours {losses['ours']:.6f}, reference {losses['reference']:.6f}")

    cpu: dict[str, list[float]] = {impl: [] for impl in IMPLEMENTATIONS}
    wall: dict[str, list[float]] = {impl: [] for impl in IMPLEMENTATIONS}
    for round_ in range(args.iters):
        for impl in IMPLEMENTATIONS[::1 if round_ % 2 == 0 else -1]:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            steps[impl]()
            cpu[impl].append(time.process_time() - cpu_start)
            wall[impl].append(time.perf_counter() - wall_start)
    summary = {impl: {"cpu_s_median": statistics.median(cpu[impl]), "cpu_s_min": min(cpu[impl]),
                      "wall_s_median": statistics.median(wall[impl]), "cpu_s": cpu[impl], "wall_s": wall[impl],
                      "train_clips_per_cpu_s": args.batch_size / statistics.median(cpu[impl])}
               for impl in IMPLEMENTATIONS}
    print(f"{args.variant} {args.frames}x{args.size} batch {args.batch_size}, {args.threads} thread(s), "
          f"{args.iters} interleaved steps each")
    for impl in IMPLEMENTATIONS:
        row = summary[impl]
        print(f"{impl:>9}: CPU s/step median {row['cpu_s_median']:.3f} (min {row['cpu_s_min']:.3f}), "
              f"wall median {row['wall_s_median']:.3f}, {row['train_clips_per_cpu_s']:.3f} clips per CPU second")
    ratio = summary["reference"]["cpu_s_median"] / summary["ours"]["cpu_s_median"]
    print(f"ours is {ratio:.2f}x the reference's training speed (median CPU time)")

    table = operator_table(steps)
    ours, theirs = table["ours"], table["reference"]
    names = sorted(set(ours) | set(theirs), key=lambda k: -max(ours.get(k, (0, 0))[0], theirs.get(k, (0, 0))[0]))
    print(f"\n{'operator (self CPU)':<56} {'ours ms':>9} {'calls':>6} {'ref ms':>9} {'calls':>6}")
    for name in names[:args.top]:
        (a, n), (b, m) = ours.get(name, (0.0, 0)), theirs.get(name, (0.0, 0))
        print(f"{name[:56]:<56} {a:9.1f} {n:6d} {b:9.1f} {m:6d}")
    totals = {impl: sum(ms for ms, _ in table[impl].values()) for impl in IMPLEMENTATIONS}
    print(f"{'total':<56} {totals['ours']:9.1f} {'':6} {totals['reference']:9.1f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "losses": losses,
                                        "steps": summary, "speed_ratio": ratio, "operators_ms": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
