"""Time and peak memory of the trajectory-attention backends, alone and inside the Motionformer attention layer.

    python -m benchmarks.attention_kernels                                  # 16x224 and 32x224, this machine
    python -m benchmarks.attention_kernels --device cuda --dtypes fp32 bf16 --batch 4
    python -m benchmarks.attention_kernels --reference-checkout /tmp/Motionformer   # also time the original layer
    python -m benchmarks.attention_kernels --tiny --out /tmp/bench                  # CI: seconds

Two scopes, each in forward-only (``fwd``, no autograd) and training (``fwd+bwd``) mode:
* ``stage1``: ``common.kernels.trajectory_attention`` per backend on q, k, v ``[B, 12, F*196, 64]``.
* ``layer``: the whole trajectory-attention layer (qkv, CLS row, stage 1, stage 2, output projection) of
  ``projects.motionformer.model.TrajectoryAttention`` per backend, and with ``--reference-checkout`` the
  reference ``TrajectoryAttention`` of facebookresearch/Motionformer loaded with the same weights (the checkout needs
  ``einops`` and ``timm`` importable; it is only read, never copied here). Its output is checked against ours.
  ``--stage2`` adds layers with the stage-2 options (``common.kernels.trajectory_stage2``) on the fused backends:
  ``ours/sdpa+recompute`` recomputes stage 2 in backward, ``+fold`` folds W_k into the queries.
Columns: ``ms`` median step time; ``peak_MiB`` memory above the inputs and weights during one step (CUDA: peak
allocated; CPU: peak RSS growth of the process, coarse); ``saved_MiB`` tensors autograd keeps for backward (exact,
device independent: the activation memory a model pays per layer); ``x_faster`` / ``x_less_saved`` relative to the
baseline of the scope (``stage1``: the ``math`` backend; ``layer``: the original layer when given, else ours
with the explicit math); ``max_diff``: max-abs output difference from that baseline.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from benchmarks.environment import format_table, resolve_device, results_dir, write_json, write_markdown
from common.kernels.trajectory_attention import BACKENDS, trajectory_attention

# name -> (frames of tokens F, patches per frame P, heads, head dim)
SIZES = {"16x224": (8, 196, 12, 64), "32x224": (16, 196, 12, 64), "tiny": (2, 9, 2, 8)}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
STAGE2_OPTIONS = ("plain", "recompute", "recompute+fold")  # layer rows per fused backend (plain = neither)
COLUMNS = ("size", "scope", "impl", "mode", "dtype", "batch", "ms", "peak_MiB", "saved_MiB", "x_faster",
           "x_less_saved", "max_diff", "error")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _memory_now(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with contextlib.suppress(OSError):  # Linux resets the high-water mark VmHWM on "5"
            Path("/proc/self/clear_refs").write_text("5")


def _peak(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def saved_activation_mib(step: Callable[[], torch.Tensor], parameters: set[int]) -> float:
    """MiB of distinct tensors autograd saves for backward during ``step()``, weights excluded."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if id(tensor) not in parameters and tensor.device.type != "meta":
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    return sum(storages.values()) / 2**20


def measure(step: Callable[[], Any], device: torch.device, warmup: int, repeat: int) -> tuple[float, float]:
    """Median milliseconds over ``repeat`` calls after ``warmup``; peak MiB above the memory before a call."""
    for _ in range(warmup):
        step()
    _synchronize(device)
    before = _memory_now(device)
    _reset_peak(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        _synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), max(0.0, _peak(device) - before)


def load_reference_layer_class(checkout: Path) -> type:
    """``TrajectoryAttention`` from a local facebookresearch/Motionformer checkout.

    Only ``slowfast/models/vit_helper.py`` and its three helper modules are loaded, as a stand-alone package, so the
    checkout's training dependencies (fvcore configs, simplejson, ...) are not needed; einops and timm are.
    """
    models_dir = Path(checkout).resolve() / "slowfast" / "models"
    if not (models_dir / "vit_helper.py").is_file():
        raise SystemExit(f"--reference-checkout {checkout}: no slowfast/models/vit_helper.py (not a Motionformer "
                         "checkout)")
    package = types.ModuleType("motionformer_reference")
    package.__path__ = [str(models_dir)]
    sys.modules.setdefault(package.__name__, package)
    try:
        return importlib.import_module("motionformer_reference.vit_helper").TrajectoryAttention
    except ImportError as error:
        raise SystemExit(f"--reference-checkout needs einops and timm importable ({error})") from error


def make_cases(size: str, batch: int, dtype: torch.dtype, device: torch.device, backends: list[str],
               reference_class: type | None, stage2: tuple[str, ...] = STAGE2_OPTIONS
               ) -> list[tuple[str, str, Callable[[bool], torch.Tensor], set[int]]]:
    """(scope, impl, run(train) -> output, parameter ids) for every implementation of one size."""
    frames, patches, heads, head_dim = SIZES[size]
    generator = torch.Generator().manual_seed(0)
    tokens = frames * patches
    qkv = [torch.randn(batch, heads, tokens, head_dim, generator=generator).to(device, dtype).requires_grad_()
           for _ in range(3)]
    cases = []
    for backend in backends:
        def run_stage1(train: bool, backend=backend) -> torch.Tensor:
            with torch.set_grad_enabled(train):
                return trajectory_attention(*qkv, frames, backend=backend)
        cases.append(("stage1", backend, run_stage1, set()))

    try:
        from projects.motionformer.model import TrajectoryAttention
    except ImportError as error:
        return cases + [("layer", "ours", _raiser(f"projects.motionformer unavailable: {error}"), set())]
    dim = heads * head_dim
    x = torch.randn(batch, 1 + tokens, dim, generator=generator).to(device, dtype).requires_grad_()
    torch.manual_seed(0)
    layers = {}
    for backend, option in [(b, o) for b in backends for o in stage2 if o == "plain" or b != "math"]:
        name = f"ours/{backend}" + ("" if option == "plain" else f"+{option}")
        layers[name] = TrajectoryAttention(dim, heads, qkv_bias=True, backend=backend,
                                           stage2_recompute="recompute" in option, stage2_key_fold="fold" in option)
    weights = next(iter(layers.values())).state_dict()
    if reference_class is not None:
        layers = {"original": reference_class(dim, heads, qkv_bias=True, use_original_code=True), **layers}
    for impl, layer in layers.items():
        layer.load_state_dict(weights)
        layer.to(device, dtype).train()  # attention dropout is 0 in every config, so train mode is deterministic

        def run_layer(train: bool, layer=layer, impl=impl) -> torch.Tensor:
            with torch.set_grad_enabled(train):
                if impl == "original":
                    return layer(x, seq_len=patches, num_frames=frames)[0]
                return layer(x, frames)
        cases.append(("layer", impl, run_layer, {id(p) for p in layer.parameters()}))
    return cases


def _raiser(message: str) -> Callable[[bool], torch.Tensor]:
    def run(train: bool) -> torch.Tensor:
        raise RuntimeError(message)
    return run


def benchmark_case(run: Callable[[bool], torch.Tensor], parameters: set[int], mode: str, device: torch.device,
                   warmup: int, repeat: int) -> dict[str, Any]:
    train = mode == "fwd+bwd"
    output = run(False).detach()
    grad = torch.randn_like(output) if train else None

    def step() -> None:
        out = run(train)
        if train:
            out.backward(grad)

    milliseconds, peak = measure(step, device, warmup, repeat)
    row = {"ms": milliseconds, "peak_MiB": peak, "output": output}
    if train:
        row["saved_MiB"] = saved_activation_mib(lambda: run(True), parameters)
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Speed, saved-memory ratio and output difference of every row against its scope's baseline row."""
    for row in rows:
        baseline_impl = "math" if row["scope"] == "stage1" else (
            "original" if any(r["impl"] == "original" for r in rows) else "ours/math")
        key = ("size", "scope", "mode", "dtype", "batch")
        baseline = next((r for r in rows if r["impl"] == baseline_impl and all(r[k] == row[k] for k in key)
                         and "error" not in r), None)
        if baseline is None or "error" in row:
            continue
        row["x_faster"] = baseline["ms"] / row["ms"]
        if row.get("saved_MiB"):
            row["x_less_saved"] = baseline["saved_MiB"] / row["saved_MiB"]
        row["max_diff"] = (row["output"].float() - baseline["output"].float()).abs().max().item()


def run_benchmark(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = resolve_device(args.device)
    backends = [b for b in args.backends if b != "triton" or device.type == "cuda"]
    reference_class = load_reference_layer_class(args.reference_checkout) if args.reference_checkout else None
    plan = [(size, dtype) for size in args.sizes for dtype in args.dtypes]
    rows = []
    for size, dtype_name in tqdm(plan, desc="attention_kernels", disable=args.tiny):
        cases = make_cases(size, args.batch, DTYPES[dtype_name], device, backends, reference_class, args.stage2)
        for scope, impl, run, parameters in cases:
            for mode in args.modes:
                row = {"size": size, "scope": scope, "impl": impl, "mode": mode, "dtype": dtype_name,
                       "batch": args.batch, "device": str(device)}
                try:
                    row.update(benchmark_case(run, parameters, mode, device, args.warmup, args.repeat))
                except (RuntimeError, torch.cuda.OutOfMemoryError) as error:
                    row["error"] = "out of memory" if "out of memory" in str(error) else str(error).splitlines()[0]
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                rows.append(row)
        del cases
    add_ratios(rows)
    for row in rows:
        row.pop("output", None)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    parser.add_argument("--sizes", nargs="+", default=["16x224", "32x224"], choices=sorted(SIZES))
    parser.add_argument("--dtypes", nargs="+", default=["fp32"], choices=sorted(DTYPES))
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS,
                        help="triton is skipped without CUDA")
    parser.add_argument("--modes", nargs="+", default=["fwd", "fwd+bwd"], choices=["fwd", "fwd+bwd"])
    parser.add_argument("--stage2", nargs="+", default=list(STAGE2_OPTIONS), choices=STAGE2_OPTIONS + ("fold",),
                        help="stage-2 options of the layer rows on the sdpa/triton backends (plain: neither)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference-checkout", type=Path, help="local facebookresearch/Motionformer checkout")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes, one step each (what CI runs)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the JSON and markdown results (default: results/; results/_tiny with --tiny)")
    args = parser.parse_args(argv)
    args.out = results_dir(args.out, args.tiny)
    if args.tiny:
        args.sizes, args.warmup, args.repeat = ["tiny"], 0, 1
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    load_before = os.getloadavg()  # CPU timings on a shared machine are only as good as its idle cores
    rows = run_benchmark(args)
    print(format_table(rows, COLUMNS))
    device = resolve_device(args.device).type
    name = f"attention_kernels_{device}" + ("_tiny" if args.tiny else "")
    settings = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
                if key != "out"}
    settings["load_average_1min"] = [load_before[0], os.getloadavg()[0]]
    settings["triton"] = importlib.import_module("triton").__version__ if importlib.util.find_spec("triton") else None
    write_json(args.out / f"{name}.json", "attention_kernels", settings, rows)
    write_markdown(args.out / f"{name}.md", f"Trajectory attention kernels ({device})", settings, rows, COLUMNS,
                   notes=__doc__.split("\n\n", 2)[2])
    return rows


if __name__ == "__main__":
    main()
