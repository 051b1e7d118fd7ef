"""The flag vocabulary every project shares, and the resolved configuration a run writes (``config.json``).

The shared entry points (:mod:`common.engine.app`) build one parser per project from
:func:`add_shared_args` + :func:`add_engine_args` + the recipe's own flags; :func:`add_engine_args` alone is what the
:class:`~common.engine.trainer.Trainer` reads (tests and notebooks use it with :func:`engine_defaults`).

Meanings follow PySlowFast / MMAction2 where they agree:

* ``--batch-size`` is the *global* training batch (all processes together), as ``TRAIN.BATCH_SIZE`` and the TSM
  family's DataParallel batch; :func:`per_process_batch_size` splits it. ``--test-batch-size`` is the global number
  of views per test batch.
* ``--lr`` is the base lr for ``--batch-size``; ``--auto-scale-lr`` scales it linearly by
  ``batch-size x accum-steps / reference-batch-size`` (the batch of one optimiser step over the preset's
  ``batch_size`` unless the preset records another ``reference_batch_size``).
* Schedules (``--lr-policy``): ``step`` = the lr is ``lr * lr_factors[i]`` from epoch ``lr_steps[i]`` on (the
  milestones never include 0; ``--lr-factors`` are multipliers of ``--lr``, not of the previous lr); ``cosine`` =
  half cosine from ``lr`` to ``--cosine-end-lr`` over ``--epochs``; ``constant``. ``--warmup-epochs`` precedes any
  of them (the warm-up rule is the paper's; see the recipe).
* ``--num-frames`` / ``--sampling-rate``: frames per clip and their stride; ``--crop-size`` the train / test crop;
  ``--scale-size`` the short side before val / test crops (where the paper resizes to a fixed size).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

Aliases = Mapping[str, Sequence[str]]


def _adder(group: Any, aliases: Aliases | None):
    """``group.add_argument`` that appends a project's reference spellings to a flag's option strings."""
    aliases = aliases or {}

    def add(name: str, *more: str, **kwargs: Any) -> argparse.Action:
        return group.add_argument(name, *more, *aliases.get(name, ()), **kwargs)

    return add


def add_engine_args(parser: argparse.ArgumentParser, aliases: Aliases | None = None) -> argparse.ArgumentParser:
    """The training loop's flags (run directory, precision, speed switches, resume, distributed): what the
    ``Trainer`` reads from its config."""
    add = _adder(parser.add_argument_group("engine: run, precision, speed, distributed"), aliases)
    add("--output-dir", default="runs/default", help="run directory: checkpoints/, TensorBoard events, log.txt, "
        "config.json (test.py: scores.npz, metrics.json, confusion matrix)")
    add("--epochs", type=int, default=1, help="number of training epochs")
    add("--batch-size", type=int, default=8,
        help="global training batch (all processes together); must divide by the number of processes")
    add("--workers", type=int, default=4, help="DataLoader worker processes per process")
    add("--seed", type=int, default=0, help="random seed (python, numpy, torch, sampler order)")
    add("--amp", choices=("off", "fp16", "bf16"), default="off",
        help="mixed precision: fp16 uses a GradScaler whose state is checkpointed")
    add("--channels-last", action=argparse.BooleanOptionalAction, default=False,
        help="channels_last / channels_last_3d memory format for weights and input (speed switch)")
    add("--compile", action=argparse.BooleanOptionalAction, default=False, help="torch.compile the model")
    add("--grad-clip", type=float, default=None, help="clip the total L2 norm of all gradients (None: no clipping)")
    add("--accum-steps", type=int, default=1, help="gradient accumulation: optimiser step every N batches")
    add("--resume", default=None,
        help="'auto' = newest complete checkpoint of --output-dir (fresh start if none), or a path")
    add("--eval-every", type=int, default=1, help="validate every N epochs (and after the last)")
    add("--save-every", type=int, default=0, help="also keep checkpoints/epoch_XXXX.pth every N epochs (0: off)")
    add("--best-metric", default="top1", help="validation metric (higher is better) that selects best.pth")
    add("--sync-bn", action=argparse.BooleanOptionalAction, default=False,
        help="SyncBatchNorm: BatchNorm statistics over the whole global batch (all GPUs) instead of each process's "
             "share; GPUs only")
    add("--max-bad-fraction", type=float, default=0.05,
        help="stop when more than this fraction of an epoch's clip loads fail (unreadable videos are replaced by "
             "random others; each is named in log.txt), over all workers and processes")
    add("--bad-sample-retries", type=int, default=10,
        help="replacements one training item may try before the run stops")
    add("--find-unused-parameters", action=argparse.BooleanOptionalAction, default=False,
        help="DDP find_unused_parameters (models with parameters that get no gradient)")
    add("--deterministic", action=argparse.BooleanOptionalAction, default=False,
        help="deterministic kernels (bitwise-reproducible on CPU; slower on GPU)")
    add("--device", choices=("auto", "cuda", "cpu"), default="auto", help="cuda when available with auto")
    add("--log-every", type=int, default=20, help="log training scalars every N optimiser steps")
    add("--max-steps", type=int, default=None, help="stop after N optimiser steps in all (smoke runs)")
    add("--no-progress", action="store_true", help="disable the tqdm progress bar")
    add("--precise-bn-batches", type=int, default=0,
        help="before each evaluation and each --save-every snapshot (once per epoch) recompute BN statistics on "
             "N training batches, PySlowFast's precise BN (0: off)")
    return parser


def add_shared_args(parser: argparse.ArgumentParser, variants: Sequence[str], presets: Sequence[str],
                    aliases: Aliases | None = None) -> argparse.ArgumentParser:
    """The rest of the shared vocabulary: configuration, data, model, optimisation and schedule, test views."""
    add = _adder(parser.add_argument_group("configuration"), aliases)
    add("--preset", choices=sorted(presets), default=None,
        help="named configuration of the paper / its repo: sets defaults, explicit flags win")
    add("--config", default=None, help="a run's config.json (or its run directory): rerun it; explicit flags win")
    add("--print-config", action="store_true", help="print the resolved configuration as JSON and exit")

    add = _adder(parser.add_argument_group("data"), aliases)
    add("--data-root", default=".", help="root that relative annotation / video paths are resolved against")
    add("--train-list", default=None, help="training annotation file (relative to --data-root)")
    add("--val-list", default=None, help="validation annotation file; test.py tests it ('' = no validation)")
    add("--num-classes", type=int, default=None, help="classifier size (None: from the data or the variant)")
    add("--num-frames", type=int, default=8, help="frames per clip (T)")
    add("--sampling-rate", type=int, default=1, help="frame stride of dense clips")
    add("--crop-size", type=int, default=224, help="train and test crop side")
    add("--scale-size", type=int, default=256, help="short side before val / test crops")
    add("--timestamp-trim", action=argparse.BooleanOptionalAction, default=False,
        help="PySlowFast-dialect clips: reproduce PySlowFast's timestamp trimming of mp4 views (most start one "
             "frame later, as the released numbers were made); default: frame-exact indices")

    add = _adder(parser.add_argument_group("model"), aliases)
    add("--variant", choices=list(variants), default=list(variants)[0], help="named model of the variant table")
    add("--pretrained", default=None, help="local ImageNet weights of the backbone (never downloaded)")
    add("--finetune", default=None,
        help="initialise from a checkpoint (ours or the reference's); heads whose shape differs are skipped")
    add("--count-flops", action=argparse.BooleanOptionalAction, default=True,
        help="log fvcore GFLOPs per clip at start (a trace of one forward pass)")

    add = _adder(parser.add_argument_group("optimisation"), aliases)
    add("--lr", type=float, default=0.01, help="base lr for the global --batch-size")
    add("--weight-decay", type=float, default=1e-4, help="weight decay")
    add("--auto-scale-lr", action=argparse.BooleanOptionalAction, default=False,
        help="scale --lr by --batch-size x --accum-steps / --reference-batch-size (linear rule); config.json "
             "records the result")
    add("--reference-batch-size", type=int, default=None,
        help="the batch --lr is meant for (default: the preset's --batch-size)")
    add("--lr-policy", choices=("step", "cosine", "constant"), default="step",
        help="step: lr x lr_factors[i] from epoch lr_steps[i] on; cosine: to --cosine-end-lr at --epochs")
    add("--lr-steps", type=float, nargs="*", default=[],
        help="step policy: epochs (milestones, no leading 0) where the lr changes")
    add("--lr-factors", type=float, nargs="*", default=[],
        help="step policy: lr multiplier (of --lr) from each milestone on, one per --lr-steps entry")
    add("--cosine-end-lr", type=float, default=0.0, help="cosine policy: lr at --epochs")
    add("--warmup-epochs", type=float, default=0.0, help="warm-up length in epochs (0: none)")
    add("--warmup-start-lr", type=float, default=0.0, help="lr at epoch 0 of a linear warm-up")

    add = _adder(parser.add_argument_group("test.py"), aliases)
    add("--checkpoint", default=None, help="test.py: the weights to test (ours or the reference's)")
    add("--num-clips", type=int, default=1, help="test.py: temporal views per video")
    add("--num-crops", type=int, choices=(1, 3, 5, 10), default=1, help="test.py: spatial views per clip")
    add("--test-batch-size", type=int, default=8, help="test.py: global number of views per batch")
    return parser


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


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config`` record of a run's ``config.json`` (``path`` may be the file or its run directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"--config {path} does not exist")
    record = json.loads(path.read_text())
    return dict(record.get("config", record))


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
