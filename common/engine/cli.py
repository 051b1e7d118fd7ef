"""Shared command-line flags of every project's ``main.py``, named presets, and the resolved configuration.

A project's ``main.py`` adds its own flags (model, optimiser, data) next to these::

    parser = argparse.ArgumentParser(description="MAS-Net training")
    add_engine_args(parser)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parse_with_presets(parser, PRESETS, argv)   # --preset NAME sets defaults, explicit flags win
    save_resolved_config(args, args.output_dir)

``--batch-size`` is the *global* batch (all processes together), as in both PySlowFast (``TRAIN.BATCH_SIZE``) and
the TSM family (summed over DataParallel GPUs); :func:`per_process_batch_size` splits it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import torch


def add_engine_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the engine's flags (run directory, loop, precision, speed switches, resume, distributed) to ``parser``."""
    group = parser.add_argument_group("engine")
    group.add_argument("--output-dir", type=str, default="runs/default",
                       help="run directory: checkpoints/, TensorBoard events, log.txt, config.json")
    group.add_argument("--epochs", type=int, default=1, help="number of training epochs")
    group.add_argument("--batch-size", type=int, default=8,
                       help="global batch size (all processes together); must divide by the number of processes")
    group.add_argument("--workers", type=int, default=4, help="DataLoader worker processes per training process")
    group.add_argument("--seed", type=int, default=0, help="random seed (python, numpy, torch, sampler order)")
    group.add_argument("--amp", choices=("off", "fp16", "bf16"), default="off",
                       help="mixed precision: fp16 uses a GradScaler whose state is checkpointed")
    group.add_argument("--channels-last", action="store_true",
                       help="channels_last / channels_last_3d memory format for weights and input (speed switch)")
    group.add_argument("--compile", action="store_true", help="torch.compile the model (speed switch)")
    group.add_argument("--grad-clip", type=float, default=None,
                       help="clip the total L2 norm of all gradients to this value (default: no clipping)")
    group.add_argument("--accum-steps", type=int, default=1,
                       help="gradient accumulation: optimiser step every N batches")
    group.add_argument("--resume", type=str, default=None,
                       help="'auto' = newest complete checkpoint of --output-dir (fresh start if none), or a path")
    group.add_argument("--eval-every", type=int, default=1, help="validate every N epochs (and after the last)")
    group.add_argument("--save-every", type=int, default=0,
                       help="also keep checkpoints/epoch_XXXX.pth every N epochs (0: only last and best)")
    group.add_argument("--best-metric", type=str, default="top1",
                       help="validation metric (higher is better) that selects checkpoints/best.pth")
    group.add_argument("--sync-bn", action="store_true",
                       help="SyncBatchNorm: BatchNorm statistics over the whole global batch (all GPUs) instead of "
                            "each process's share; GPUs only")
    group.add_argument("--max-bad-fraction", type=float, default=0.05,
                       help="stop when more than this fraction of an epoch's clip loads fail (unreadable videos are "
                            "replaced by random others; each is named in log.txt), over all workers and processes")
    group.add_argument("--bad-sample-retries", type=int, default=10,
                       help="replacements one training item may try before the run stops")
    group.add_argument("--find-unused-parameters", action="store_true",
                       help="DDP find_unused_parameters (for models with parameters that get no gradient)")
    group.add_argument("--deterministic", action="store_true",
                       help="deterministic kernels (bitwise-reproducible on CPU; slower on GPU)")
    group.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="training device")
    group.add_argument("--log-every", type=int, default=20, help="log training scalars every N optimiser steps")
    group.add_argument("--max-steps", type=int, default=None,
                       help="stop after N optimiser steps in total (smoke runs); a checkpoint is saved")
    group.add_argument("--no-progress", action="store_true", help="disable the tqdm progress bar")
    return parser


def add_test_engine_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The evaluation subset of the engine flags, for ``test.py`` (workers, seed, AMP, device, progress bar)."""
    group = parser.add_argument_group("engine")
    group.add_argument("--workers", "-j", type=int, default=4, help="DataLoader worker processes per process")
    group.add_argument("--seed", type=int, default=0, help="random seed")
    group.add_argument("--amp", choices=("off", "fp16", "bf16"), default="off", help="autocast precision")
    group.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="test device")
    group.add_argument("--no-progress", action="store_true", help="disable the tqdm progress bar")
    return parser


def parse_with_presets(parser: argparse.ArgumentParser, presets: dict[str, dict[str, Any]],
                       argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` where ``--preset NAME`` supplies defaults and every explicitly given flag overrides them.

    Preset keys are argparse destinations (``batch_size``, not ``--batch-size``); an unknown key is a programming
    error and raises ``KeyError`` naming it. The chosen name is kept in ``args.preset``.
    """
    if not any("--preset" in action.option_strings for action in parser._actions):
        parser.add_argument("--preset", choices=sorted(presets), default=None,
                            help="named configuration of the paper / its repo; explicit flags override it")
    known, _ = parser.parse_known_args(argv)
    if known.preset is not None:
        if known.preset not in presets:
            parser.error(f"unknown preset {known.preset!r}; choose from {', '.join(sorted(presets))}")
        destinations = {action.dest for action in parser._actions}
        unknown = sorted(set(presets[known.preset]) - destinations)
        if unknown:
            raise KeyError(f"preset {known.preset!r} sets {unknown}, which are not flags of this parser")
        parser.set_defaults(**presets[known.preset])
    return parser.parse_args(argv)


def engine_defaults(**overrides: Any) -> argparse.Namespace:
    """The engine flags at their defaults with ``overrides`` applied (for tests and notebooks)."""
    args = add_engine_args(argparse.ArgumentParser()).parse_args([])
    unknown = sorted(set(overrides) - set(vars(args)))
    if unknown:
        raise KeyError(f"not engine flags: {unknown}")
    vars(args).update(overrides)
    return args


def refuse_unusable_flags(config: argparse.Namespace, device: torch.device, world_size: int) -> None:
    """Stop at start, with one line, on engine flags this machine cannot honour (``SystemExit``: no traceback)."""
    if getattr(config, "sync_bn", False) and device.type != "cuda":
        raise SystemExit(f"error: --sync-bn needs CUDA devices (SyncBatchNorm exchanges batch statistics with NCCL); "
                         f"this run is on {device.type} with {world_size} process(es). Drop --sync-bn: each process "
                         f"then normalises with the statistics of its own share of the batch")


def per_process_batch_size(global_batch_size: int, world_size: int) -> int:
    """Split the global batch over processes; refuses a remainder instead of silently flooring it."""
    if global_batch_size % world_size != 0:
        raise ValueError(f"--batch-size {global_batch_size} is not divisible by the {world_size} processes; "
                         f"choose a multiple of {world_size}")
    return global_batch_size // world_size


def config_to_dict(args: argparse.Namespace | dict[str, Any]) -> dict[str, Any]:
    """A JSON-safe dict of the configuration (paths and other objects become strings)."""
    items = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    safe: dict[str, Any] = {}
    for key, value in items.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            safe[key] = value
        elif isinstance(value, (list, tuple)):
            safe[key] = [v if isinstance(v, (bool, int, float, str)) or v is None else str(v) for v in value]
        else:
            safe[key] = str(value)
    return safe


def code_version() -> dict[str, Any]:
    """The git commit of this code and whether the work tree had uncommitted changes (empty outside a checkout)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    if commit.returncode != 0:
        return {}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(status.stdout.strip())}


def save_resolved_config(args: argparse.Namespace | dict[str, Any], output_dir: str | os.PathLike,
                         extra: dict[str, Any] | None = None) -> Path | None:
    """Write ``config.json`` (the resolved flags plus the software environment) into ``output_dir``.

    Only the main process writes; others return ``None``. The write is atomic.
    """
    from common.distributed import get_world_size, is_main_process

    if not is_main_process():
        return None
    record = {
        "config": config_to_dict(args),
        "environment": {
            "command": " ".join(sys.argv),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "world_size": get_world_size(),
            **code_version(),
        },
    }
    if extra:
        record.update(extra)
    path = Path(output_dir) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return path
