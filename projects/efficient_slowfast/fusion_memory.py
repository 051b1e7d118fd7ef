"""Peak memory and time of one CMDA fusion layer, forward + backward: ours (fused and explicit attention) against
the reference's ``FuseFastAndSlow`` (``--reference-checkout``, never part of this repository).

    python -m projects.efficient_slowfast.fusion_memory --frames 32 --size 160 --reference-checkout ~/Efficient-SlowFast

The layer is the dual model's ``s1_fuse`` (slow 64 and fast 8 channels at a quarter of the crop, N = T/4 * (S/4)^2
attention positions). Each measurement runs in a fresh process: on CPU the peak is the growth of the process's
maximum resident set over what the layer and its inputs hold; on CUDA it is ``max_memory_allocated`` over the
same baseline. The outputs of the three are compared (same weights, copied through the converter).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from projects.efficient_slowfast.models import CMDA, convert_reference_state_dict
from projects.efficient_slowfast.reference import peak_rss_bytes

IMPLEMENTATIONS = ("sdpa", "math", "reference")


def _peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return peak_rss_bytes()


def measure(impl: str, args: argparse.Namespace) -> dict:
    """One forward + backward of the layer in this process: peak MiB over the baseline, seconds, output checksum."""
    torch.manual_seed(0)
    device = torch.device(args.device)
    layer = CMDA(64, 8, alpha=4, beta_inv=8, attn_backend="math" if impl == "math" else "sdpa")
    torch.nn.init.normal_(layer.s2f_attention.gamma)
    if impl == "reference":
        from projects.efficient_slowfast.reference import build_reference_fusion

        reference = build_reference_fusion(args.reference_checkout, 64, 8)
        theirs = reference.state_dict()
        marker = {"s2.pathway0_res0.branch2.a.weight": torch.zeros(1)}  # makes it read as a dual-model state dict
        converted = convert_reference_state_dict({f"s1_fuse.{k}": v for k, v in theirs.items()} | marker,
                                                 "slowfast_dual_r50")
        ours = [k.removeprefix("s1_fuse.") for k in converted][:len(theirs)]  # the converter keeps the order
        own = layer.state_dict()
        reference.load_state_dict({their: own[our] for their, our in zip(theirs, ours)})
        layer = reference
    layer = layer.to(device).train()
    quarter = args.size // 4
    inputs = torch.Generator().manual_seed(1)  # independent of how many draws building the layer took
    slow = torch.randn(1, 64, args.frames // 4, quarter, quarter, generator=inputs).to(device).requires_grad_()
    fast = torch.randn(1, 8, args.frames, quarter, quarter, generator=inputs).to(device).requires_grad_()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    baseline = _peak_bytes(device)
    start = time.perf_counter()
    new_slow, new_fast = layer([slow, fast])
    (new_slow.float().square().mean() + new_fast.float().square().mean()).backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"impl": impl, "peak_MiB": (_peak_bytes(device) - baseline) / 2**20, "seconds": seconds,
            "checksum": [float(new_slow.double().sum()), float(new_fast.double().sum()),
                         float(slow.grad.double().abs().sum())]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m projects.efficient_slowfast.fusion_memory",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=32, help="fast frames T (slow T/4)")
    parser.add_argument("--size", type=int, default=160, help="crop side S; the layer sees S/4")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reference-checkout", type=Path, default=None)
    parser.add_argument("--impls", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS),
                        help="the implementations measured (the reference only with --reference-checkout)")
    parser.add_argument("--one", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return 0
    impls = [impl for impl in args.impls if args.reference_checkout or impl != "reference"]
    rows = []
    for impl in impls:
        child = [sys.executable, "-m", "projects.efficient_slowfast.fusion_memory", "--one", impl,
                 "--frames", str(args.frames), "--size", str(args.size), "--device", args.device,
                 "--threads", str(args.threads)]
        if args.reference_checkout:
            child += ["--reference-checkout", str(args.reference_checkout)]
        result = subprocess.run(child, capture_output=True, text=True, check=True)
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    positions = args.frames // 4 * (args.size // 4) ** 2
    print(f"CMDA s1_fuse, slow [1, 64, {args.frames // 4}, {args.size // 4}, {args.size // 4}], N = {positions}, "
          f"{args.device}, forward + backward")
    for row in rows:
        print(f"{row['impl']:>9}: peak {row['peak_MiB']:9.1f} MiB  {row['seconds']:7.2f} s  checksum {row['checksum']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
