"""The shared entry points: ``train(recipe, argv)`` and ``test(recipe, argv)``, the body of every ``main.py`` and
``test.py`` (see :mod:`common.engine.recipe` and ``projects/README.md``).

Where a value comes from, lowest priority first:

1. the engine's default, then the recipe's ``defaults``;
2. ``--preset NAME`` (the preset records its ``batch_size`` as ``reference_batch_size`` for ``--auto-scale-lr``);
3. a stored configuration: ``--config RUN/config.json`` (a rerun), and in ``test.py`` the tested checkpoint's own
   training configuration (same preprocessing as training without repeating flags); stored values that are unset
   (None or '', e.g. ``--val-list ''`` of a run without validation) do not replace lower layers' values;
4. flags given on the command line: they always win (an explicit ``--variant`` is never replaced by the
   checkpoint's).

Then the recipe's :meth:`~common.engine.recipe.Recipe.resolve` derives what depends on other values, and
``--auto-scale-lr`` rescales ``--lr`` (linear rule: ``batch-size x accum-steps / reference-batch-size``).
``--print-config`` prints that resolved configuration and exits.

One parser serves both entry points, so one flag string works for both: ``test.py`` accepts the training flags and
ignores them (``--pretrained`` and ``--finetune`` are dropped), ``main.py`` ignores the test-view flags.

``config.json`` rule (every project): training writes the resolved configuration to ``RUN/config.json`` once per
start, after every derived value is set and before the first step. A resumed start rewrites it with the
configuration it continues with (the one its checkpoints then store) and logs which values changed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from common.data.loader import build_loader
from common.distributed import distributed_run, is_main_process, seed_everything
from common.engine.checkpoint import CheckpointError, load_checkpoint, load_finetune_weights, load_state_dict_verbose
from common.engine.cli import (add_engine_args, add_shared_args, config_to_dict, per_process_batch_size,
                               read_config_file, refuse_unusable_flags, save_resolved_config)
from common.engine.evaluate import multiview_test
from common.engine.logging import RunLogger
from common.engine.metrics import AMP_DTYPES
from common.engine.model_info import describe_model
from common.engine.multigrid import MultigridError, add_multigrid_args
from common.engine.multigrid_loop import check_multigrid, prepare_multigrid
from common.engine.multiview import MultiViewTestMeter
from common.engine.recipe import Recipe, RecipeError, ViewSpec
from common.engine.trainer import Trainer, TrainResult

# The tiny preset of every project is `tiny_synthetic`; the other spelling was MAS-Net's.
PRESET_ALIASES = {"synthetic_tiny": "tiny_synthetic"}
# Never taken from a stored configuration: how that run was invoked, not what it computed.
RUN_CONTROL_KEYS = frozenset({"config", "print_config"})
# Not taken from the tested checkpoint's configuration either: where the training run wrote and started from.
TRAINING_RUN_KEYS = RUN_CONTROL_KEYS | {"output_dir", "resume", "checkpoint", "pretrained", "finetune", "max_steps"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` shows each flag's default (after ``--preset`` / ``--config``) and keeps the description's lines."""


def build_parser(recipe: Recipe, mode: str, extra_args: Callable[[argparse.ArgumentParser], None] | None = None,
                 prog: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``mode`` (``"train"`` or ``"test"``): shared + engine + the recipe's (+ a tool's) flags."""
    entry = "main" if mode == "train" else "test"
    description = (type(recipe).__doc__ or "").strip()
    parser = argparse.ArgumentParser(prog=prog or f"python -m projects.{recipe.name}.{entry}",
                                     description=description, formatter_class=HelpFormatter)
    presets = [*recipe.presets, *(alias for alias, name in PRESET_ALIASES.items() if name in recipe.presets)]
    add_shared_args(parser, list(recipe.variants), presets, recipe.flag_aliases)
    add_engine_args(parser, recipe.flag_aliases)
    add_multigrid_args(parser)
    recipe.add_args(parser)
    if extra_args is not None:
        extra_args(parser)
    parser.set_defaults(**recipe.defaults)
    return parser


def _pre_parse(recipe: Recipe, argv: Sequence[str]) -> argparse.Namespace:
    """``--preset``, ``--config`` and ``--checkpoint`` alone, before the defaults they imply are set (no help, so
    that ``--preset NAME --help`` shows the preset's defaults)."""
    parser = argparse.ArgumentParser(add_help=False)
    for flag in ("--preset", "--config", "--checkpoint"):
        parser.add_argument(flag, *recipe.flag_aliases.get(flag, ()))
    return parser.parse_known_args(argv)[0]


def _renamed_keys(recipe: Recipe) -> dict[str, str]:
    """Destinations of the reference spellings (``--num_segments`` -> ``num_segments``) -> the shared flag's
    (``num_frames``): configurations stored before a flag was renamed to the shared vocabulary still load."""
    return {alias.lstrip("-").replace("-", "_"): flag.lstrip("-").replace("-", "_")
            for flag, aliases in recipe.flag_aliases.items() for alias in aliases}


def _stored_layer(stored: Mapping[str, Any], excluded: frozenset[str], destinations: set[str], renamed: dict[str, str],
                  source: str) -> dict[str, Any]:
    """The stored values this parser knows; keys of older versions or other tools are reported and skipped."""
    stored = {renamed.get(key, key): value for key, value in stored.items()}
    unknown = sorted(set(stored) - destinations - excluded)
    if unknown:
        print(f"{source}: ignoring values that are not flags here: {', '.join(unknown)}", file=sys.stderr)
    # Unset values (None, '': e.g. a training run without validation) leave the lower layers' values in place.
    return {key: value for key, value in stored.items()
            if key in destinations and key not in excluded and value not in (None, "")}


def parse_config(recipe: Recipe, argv: Sequence[str] | None, mode: str,
                 extra_args: Callable[[argparse.ArgumentParser], None] | None = None, prog: str | None = None
                 ) -> tuple[argparse.Namespace, dict[str, torch.Tensor] | None]:
    """The resolved configuration (see the module docstring), and in test mode the checkpoint's weights. Tools
    with the test flags plus their own (Grad-CAM) pass ``extra_args`` and their ``prog``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(recipe, mode, extra_args, prog)
    destinations = set(vars(parser.parse_args([])))
    pre = _pre_parse(recipe, argv)
    if pre.preset is not None:
        name = PRESET_ALIASES.get(pre.preset, pre.preset)
        if name not in recipe.presets:
            parser.error(f"unknown preset {pre.preset!r}; choose from {', '.join(sorted(recipe.presets))}")
        preset = dict(recipe.presets[name])
        unknown = sorted(set(preset) - destinations)
        if unknown:
            raise KeyError(f"{recipe.name} preset {name!r} sets {unknown}, which are not flags")
        parser.set_defaults(**{"reference_batch_size": preset.get("batch_size"), **preset, "preset": name})
    if pre.config is not None:
        stored = read_config_file(pre.config)
        excluded = RUN_CONTROL_KEYS if mode == "train" else TRAINING_RUN_KEYS  # test.py never writes into the run
        parser.set_defaults(**_stored_layer(stored, excluded, destinations, _renamed_keys(recipe), pre.config))
    checkpoint = None
    if mode == "test" and pre.checkpoint is not None:
        checkpoint = load_checkpoint(pre.checkpoint)
        stored = checkpoint.get("config") if isinstance(checkpoint, dict) else None
        if isinstance(stored, dict) and stored.get("variant", next(iter(recipe.variants))) not in recipe.variants:
            raise CheckpointError(f"{pre.checkpoint} is not a checkpoint of projects.{recipe.name}.main or of the "
                                  f"{recipe.name} reference: it was trained as {stored['variant']!r}")
        if isinstance(stored, dict):
            parser.set_defaults(**_stored_layer(stored, TRAINING_RUN_KEYS, destinations, _renamed_keys(recipe),
                                              pre.checkpoint))
    cfg = parser.parse_args(argv)
    if mode == "test" and cfg.checkpoint is None:
        parser.error("--checkpoint is required")
    cfg.preset = PRESET_ALIASES.get(cfg.preset, cfg.preset)
    weights = None
    try:
        if mode == "test":
            cfg.pretrained = cfg.finetune = None  # training-only: the checkpoint holds every weight
            weights = recipe.weights(checkpoint, cfg)
        recipe.resolve(cfg, mode, weights)
        if mode == "train":
            check_multigrid(recipe, cfg)
    except (RecipeError, MultigridError) as error:
        parser.error(str(error))
    if cfg.auto_scale_lr:
        if cfg.reference_batch_size is None:
            parser.error("--auto-scale-lr needs --reference-batch-size or a --preset that records it")
        # The batch of one optimiser step; recorded as the lr's batch so that rerunning config.json scales once.
        step_batch = cfg.batch_size * cfg.accum_steps
        cfg.lr = cfg.lr * step_batch / cfg.reference_batch_size
        cfg.reference_batch_size = step_batch
    if cfg.print_config:
        print(json.dumps(config_to_dict(cfg), indent=2, sort_keys=True))
        raise SystemExit(0)
    return cfg, weights


def write_run_config(cfg: argparse.Namespace, argv: Sequence[str] | None, log: Callable[[str], None]) -> None:
    """Write ``RUN/config.json`` (the rule is in the module docstring), logging what a resumed start changed."""
    path = Path(cfg.output_dir) / "config.json"
    current = config_to_dict(cfg)
    if path.is_file():
        previous = read_config_file(path)
        changed = sorted(key for key in set(previous) | set(current) if previous.get(key) != current.get(key))
        if changed:
            log(f"config.json: this start changes {', '.join(changed)} (previous values: "
                f"{ {key: previous.get(key) for key in changed} })")
    save_resolved_config(cfg, cfg.output_dir, extra={"argv": list(sys.argv[1:] if argv is None else argv)})


def train(recipe: Recipe, argv: Sequence[str] | None = None) -> TrainResult:
    """Parse, resolve, build, write ``config.json``, and fit (single process, torchrun or Slurm)."""
    cfg, _ = parse_config(recipe, argv, "train")
    with distributed_run(cfg.device) as info:
        refuse_unusable_flags(cfg, info.device, info.world_size)
        seed_everything(cfg.seed + info.rank, cfg.deterministic)
        logger = RunLogger(Path(cfg.output_dir), is_main=info.is_main)
        model = recipe.build_model(cfg, log=logger.info)
        if cfg.finetune:  # refuses a file that does not fit; a classifier of another class count is re-initialised
            load_finetune_weights(model, cfg.finetune, classifier_prefixes=recipe.classifier_prefixes,
                                  converter=lambda state: recipe.weights(state, cfg), log=logger.info)
        batch_size = per_process_batch_size(cfg.batch_size, info.world_size)
        train_set = recipe.dataset(cfg, "train")
        loader_args = dict(num_workers=cfg.workers, seed=cfg.seed, rank=info.rank, world_size=info.world_size)
        # Multigrid: per-phase loaders from the hook, its schedule and epoch count (config.json keeps the base values).
        multigrid = prepare_multigrid(recipe, cfg, info.rank, info.world_size, logger.info)
        train_loader = build_loader(train_set, batch_size, train=True, **loader_args) if multigrid is None else None
        val_loader = None
        if cfg.val_list:
            val_loader = build_loader(recipe.dataset(cfg, "val"), batch_size, train=False, **loader_args)
        optimizer = recipe.optimizer(cfg, model, log=logger.info)
        trainer = Trainer(model, optimizer, recipe.schedule(cfg) if multigrid is None else multigrid.schedule,
                          recipe.loss(cfg), train_loader, cfg if multigrid is None else multigrid.trainer_config,
                          val_loader=val_loader, preprocess=recipe.preprocess(cfg), accuracy_fn=recipe.accuracy(cfg),
                          dist_info=info, logger=logger, multigrid=None if multigrid is None else multigrid.hook)
        write_run_config(cfg, argv, logger.info)
        example = None
        if cfg.count_flops:  # [1, 3, T, H, W]: one clip at the configured size
            example = torch.zeros(1, 3, cfg.num_frames, cfg.crop_size, cfg.crop_size,
                                  device=next(model.parameters()).device)
        logger.info(f"{cfg.variant}: {describe_model(model, example)}, {cfg.num_classes} classes, "
                    f"{len(train_set)} training clips")
        result = trainer.fit()
        logger.info(f"training {result.status}: epoch {result.epoch}, step {result.step}, "
                    f"best {cfg.best_metric} {result.best_metric}")
        return result


def test(recipe: Recipe, argv: Sequence[str] | None = None) -> dict[str, float] | None:
    """Multi-view test of ``--checkpoint`` on ``--val-list``: writes ``scores.npz`` (per-view scores, as
    ``python -m common.tools.average_scores`` reads them), ``metrics.json`` and the confusion matrix into
    ``--output-dir``; returns the metrics on the main process (None elsewhere)."""
    cfg, weights = parse_config(recipe, argv, "test")
    with distributed_run(cfg.device) as info:
        model = recipe.build_model(cfg)
        load_state_dict_verbose(model, weights, strict=True, source=cfg.checkpoint)
        model.to(info.device)
        views = recipe.test_protocol(cfg)
        dataset = recipe.dataset(cfg, "test", views)
        loader = build_loader(dataset, per_process_batch_size(cfg.test_batch_size, info.world_size), train=False,
                              num_workers=cfg.workers, seed=cfg.seed, rank=info.rank, world_size=info.world_size)
        meter = MultiViewTestMeter(len(dataset.records), dataset.num_views, views.classes, aggregate=views.aggregate,
                                   score=views.score, class_names=views.class_names)
        multiview_test(model, loader, meter, recipe.preprocess(cfg), info.device, AMP_DTYPES[cfg.amp],
                       show_progress=not cfg.no_progress)
        if not is_main_process():
            return None
        meter.save(cfg.output_dir, video_ids=dataset.video_ids())
        metrics = meter.metrics()
        metrics.update(num_clips=float(views.num_clips), num_crops=float(views.num_crops), **views.summary)
        Path(cfg.output_dir, "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        report = test_report(cfg, views, meter, metrics, len(dataset.records))
        Path(cfg.output_dir, "report.txt").write_text(report + "\n")
        print(report)
        return metrics


def test_report(cfg: argparse.Namespace, views: ViewSpec, meter: MultiViewTestMeter, metrics: dict[str, float],
                num_videos: int) -> str:
    """What a test run measured, as text: model, checkpoint, views, classes, metrics and per-class accuracy."""
    heads = dict(views.classes) if isinstance(views.classes, Mapping) else {"": views.classes}
    lines = [f"model {cfg.variant}, checkpoint {cfg.checkpoint}",
             f"{num_videos} videos x {views.num_clips} clips x {views.num_crops} crops, {views.aggregate} of "
             f"{views.score} per video; classes: " + ", ".join(f"{head or 'all'} {n}" for head, n in heads.items()),
             ", ".join(f"{name} {value:.2f}" for name, value in metrics.items()), "per-class accuracy (%):"]
    for head in heads:
        matrix = meter.confusion_matrix(head or None)
        totals = matrix.sum(axis=1)
        names = views.class_names if not head and views.class_names is not None else None
        for label in np.flatnonzero(totals):
            name = names[label] if names is not None else f"class {label}"
            lines.append(f"  {head + ' ' if head else ''}{label:>4}  {100 * matrix[label, label] / totals[label]:6.2f}"
                         f"  ({int(matrix[label, label])}/{int(totals[label])})  {name}")
    return "\n".join(lines)
