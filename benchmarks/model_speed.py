"""Training-step and inference throughput (clips/s) and peak memory of registered variants, on CPU or CUDA.

    python -m benchmarks.model_speed --variants motionformer_224_16x4 --batch-size 8 --amp bf16 --compile
    python -m benchmarks.model_speed --tiny --out /tmp/speed          # CI: tiny variants, two steps each

Data loading is left out on purpose (random clips already on the device): this measures the model and the
optimiser step only; ``benchmarks.loader_speed`` measures the input pipeline. ``--attn-backend`` is passed to
``build_model`` as an override for variants whose table entry declares it (``arch["attn_backend"]``) and reported
as an error for the others. ``--reference-checkout DIR`` also times the reference implementation through the
project's optional ``projects/<p>/reference.py: build_reference_model(checkout, variant, num_classes)`` hook.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from benchmarks.environment import (format_table, peak_tflops, resolve_device, results_dir, torch_cpu_settings,
                                    write_json, write_markdown)
from benchmarks.registry import VariantSpec, classification_loss, example_clip, iter_variants
from common.engine.batch import convert_memory_format
from common.engine.metrics import AMP_DTYPES
from common.engine.model_info import count_flops

COLUMNS = ("project", "variant", "impl", "input", "batch", "device", "amp", "channels_last", "compile",
           "train_clips/s", "infer_clips/s", "train_cpu_s", "infer_cpu_s", "train_peak_MiB", "infer_peak_MiB", "gflops",
           "train_mfu", "infer_mfu", "max_train_batch", "error")
SPEED_NOTES = ("Random clips already on the device (no data loading); SGD step with cross-entropy. *_cpu_s: CPU "
               "seconds of this process per step (all its threads), steadier than clips/s on a shared machine. Peak "
               "memory: CUDA max allocated; CPU peak resident set size of the whole process (an upper bound).")


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        # Linux resets the process high-water mark (VmHWM) when 5 is written here; elsewhere it stays monotone.
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")


def _peak_memory_mib(device: torch.device) -> float | None:
    """CUDA: peak allocated tensor memory. CPU: peak resident set size of the whole process since the reset."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_loop(step: Callable[[], None], device: torch.device, warmup: int,
              iters: int) -> tuple[float, float, float | None]:
    """Wall seconds and process CPU seconds per call after ``warmup`` untimed calls, and the peak memory of the
    timed calls."""
    for _ in range(warmup):
        step()
    _synchronize(device)
    _reset_peak_memory(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(iters):
        step()
    _synchronize(device)
    return (time.perf_counter() - start) / iters, (time.process_time() - cpu_start) / iters, _peak_memory_mib(device)


def benchmark_model(model: torch.nn.Module, clip: torch.Tensor, num_classes: int, args: argparse.Namespace,
                    device: torch.device) -> dict[str, Any]:
    """Train-step and inference throughput of one built model on one fixed clip batch."""
    row: dict[str, Any] = {}
    model = model.to(device)
    if args.channels_last:  # the engine's rule: channels_last for 2-D conv weights, channels_last_3d for 3-D ones
        convert_memory_format(model)
    memory_format = torch.channels_last_3d if args.channels_last else torch.contiguous_format
    clip = clip.to(device).contiguous(memory_format=memory_format)
    labels = torch.arange(clip.shape[0], device=device) % num_classes
    amp_dtype = AMP_DTYPES[args.amp]
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    runner = torch.compile(model) if args.compile else model
    batch = clip.shape[0]

    if args.mode in ("train", "both"):
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
        model.train()

        def train_step() -> None:
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = classification_loss(runner(clip), labels)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

        seconds, cpu_seconds, peak = time_loop(train_step, device, args.warmup, args.iters)
        row.update({"train_clips/s": batch / seconds, "train_cpu_s": cpu_seconds, "train_peak_MiB": peak})

    if args.mode in ("infer", "both"):
        model.eval()

        def infer_step() -> None:
            with torch.inference_mode(), autocast():
                runner(clip)

        seconds, cpu_seconds, peak = time_loop(infer_step, device, args.warmup, args.iters)
        row.update({"infer_clips/s": batch / seconds, "infer_cpu_s": cpu_seconds, "infer_peak_MiB": peak})
    return row


def model_flops_utilisation(model: torch.nn.Module, clip: torch.Tensor, row: dict[str, Any], amp: str,
                            device: torch.device) -> dict[str, Any]:
    """fvcore GFLOPs of one clip, and the fraction of the device's dense peak that the measured throughput reaches
    (a training step counted as 3x the forward: forward, input gradients, weight gradients)."""
    gflops = count_flops(model, clip[:1].float())
    values: dict[str, Any] = {"gflops": gflops}
    peak = peak_tflops(torch.cuda.get_device_name(device), amp) if device.type == "cuda" else None
    if peak:
        for mode, factor in (("train", 3.0), ("infer", 1.0)):
            if f"{mode}_clips/s" in row:
                values[f"{mode}_mfu"] = row[f"{mode}_clips/s"] * gflops * factor / (peak * 1e3)
    return values


def _fits(model: torch.nn.Module, shape: tuple[int, ...], num_classes: int, batch: int, args: argparse.Namespace,
          device: torch.device) -> bool:
    trial = argparse.Namespace(**{**vars(args), "mode": "train", "warmup": 1, "iters": 1})
    try:
        benchmark_model(model, example_clip(shape, batch=batch), num_classes, trial, device)
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()


def largest_training_batch(model: torch.nn.Module, shape: tuple[int, ...], num_classes: int,
                           args: argparse.Namespace, device: torch.device) -> int:
    """The largest training batch up to ``--max-batch`` that runs a step without running out of memory (doubling,
    then bisection); 0 when even one clip does not fit."""
    low, high = 0, 1
    while high <= args.max_batch and _fits(model, shape, num_classes, high, args, device):
        low, high = high, high * 2
    high = min(high, args.max_batch + 1)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _fits(model, shape, num_classes, middle, args, device) else (low, middle)
    return low


def _reference_builder(spec: VariantSpec, checkout: Path) -> Callable[..., torch.nn.Module]:
    try:
        hook = importlib.import_module(f"projects.{spec.project}.reference")
    except ModuleNotFoundError as error:
        raise RuntimeError(f"project {spec.project} has no reference.py hook for --reference-checkout") from error
    return lambda classes: hook.build_reference_model(checkout, spec.variant.name, classes)


def run_variant(spec: VariantSpec, args: argparse.Namespace, device: torch.device, impl: str) -> dict[str, Any]:
    """Build ``impl`` ("ours" or "reference") of the variant and time it; failures land in the row's ``error``."""
    shape = tuple(args.input) if args.input else spec.input_shape
    row: dict[str, Any] = {"project": spec.project, "variant": spec.variant.name, "impl": impl,
                           "input": "x".join(map(str, shape)), "batch": args.batch_size, "device": str(device),
                           "amp": args.amp, "channels_last": args.channels_last, "compile": args.compile,
                           "attn_backend": args.attn_backend}
    torch.manual_seed(0)
    try:
        if impl == "reference":  # the reference has its own attention code: the variant's defaults only
            model = _reference_builder(spec, args.reference_checkout)(spec.variant.num_classes)
        elif args.build_arg:
            model = spec.build(**dict(args.build_arg))
        elif args.attn_backend:
            if not spec.accepts("attn_backend"):
                raise RuntimeError(f"build_model does not accept attn_backend (not an argument in the variant "
                                   f"table of {spec.project})")
            model = spec.build(attn_backend=args.attn_backend)
        else:
            model = spec.build()
        clip = example_clip(shape, batch=args.batch_size)
        row.update(benchmark_model(model, clip, spec.num_classes, args, device))
        if args.mfu:
            row.update(model_flops_utilisation(model, clip, row, args.amp, device))
        if args.max_batch:
            row["max_train_batch"] = largest_training_batch(model, shape, spec.num_classes, args, device)
    except Exception as error:  # report and go on to the next variant
        row["error"] = f"{type(error).__name__}: {error}"
    return row


def _build_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CI mode: tiny variants, 1 warm-up + 2 timed steps")
    parser.add_argument("--projects", nargs="*", help="restrict to these projects")
    parser.add_argument("--variants", nargs="*", help="restrict to these variant names")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per step (default 8, tiny 2)")
    parser.add_argument("--input", type=int, nargs=4, metavar=("C", "T", "H", "W"),
                        help="clip shape instead of the variant's paper input")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--mode", choices=("train", "infer", "both"), default="both")
    parser.add_argument("--amp", choices=tuple(AMP_DTYPES), default="off")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels-last weights (as the trainer's --channels-last) and channels_last_3d inputs")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (compile time excluded)")
    parser.add_argument("--attn-backend", default=None, help="build override for models with selectable attention")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (default 3, tiny 1)")
    parser.add_argument("--iters", type=int, default=None, help="timed steps (default 10, tiny 2)")
    parser.add_argument("--reference-checkout", type=Path, default=None,
                        help="local checkout of the reference code; also time it via projects/<p>/reference.py")
    parser.add_argument("--name", default=None, help="result file stem (default model_speed_<device type>)")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for model_speed_<device>.{json,md} (default results/; results/_tiny with --tiny)")
    parser.add_argument("--build-arg", action="append", type=_build_arg, default=[], metavar="KEY=VALUE",
                        help="build_model override for our model (JSON value, e.g. checkpointing=true); repeatable")
    parser.add_argument("--mfu", action="store_true",
                        help="also fvcore GFLOPs per clip and model FLOPs utilisation against the GPU's peak")
    parser.add_argument("--max-batch", type=int, default=0,
                        help="also search the largest training batch up to this value that fits in memory")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--keep-denormals", action="store_true",
                        help="CPU: do not flush denormal floats to zero (slow: momentum buffers of a few SGD steps on "
                             "random data decay into denormals and make some steps 10x slower)")
    args = parser.parse_args(argv)
    args.out = results_dir(args.out, args.tiny)
    defaults = (2, 1, 2) if args.tiny else (8, 3, 10)
    args.batch_size = args.batch_size or defaults[0]
    args.warmup = defaults[1] if args.warmup is None else args.warmup
    args.iters = args.iters or defaults[2]
    if args.reference_checkout is not None and not args.reference_checkout.is_dir():
        parser.error(f"--reference-checkout {args.reference_checkout}: not a directory")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    args.flush_denormal = device.type == "cpu" and not args.keep_denormals
    specs = list(iter_variants(args.projects, args.variants, paper=False if args.tiny else None))
    if not specs:
        raise SystemExit("no registered variant matches the filters")
    impls = ("ours", "reference") if args.reference_checkout else ("ours",)
    with torch_cpu_settings(args.threads, args.flush_denormal):
        rows = [run_variant(spec, args, device, impl)
                for spec in tqdm(specs, desc="model speed", unit="variant", file=sys.stderr) for impl in impls]
    print(format_table(rows, COLUMNS))
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()
                if key not in ("out", "projects", "variants")}
    out_dir = args.out
    path = write_json(out_dir / f"{args.name or 'model_speed_' + device.type}.json", "model_speed", settings, rows)
    write_markdown(path.with_suffix(".md"), f"Model speed ({device.type})", settings, rows, COLUMNS, SPEED_NOTES)
    print(f"wrote {path}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
