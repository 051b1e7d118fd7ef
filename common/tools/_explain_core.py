"""What explain, demo and predict share: load a project's model from a checkpoint, read its test view of any video,
score it, and compute Grad-CAM or the model's own attention as per-frame maps.

Nothing here knows a project: a project declares its Grad-CAM layers (``Recipe.explain_layers``), its attention
(``Recipe.attention_maps``) and its test view (``Recipe.view_dataset``) in its recipe (``projects/README.md``).

Maps are ``{name: float [T, H, W]}`` over the ``T`` frames of the clip the model was given, at the clip's size,
each normalised to [0, 1] over the whole clip (one scale for every frame, so faint frames stay faint; attention
maps may keep their raw values instead, ``scale="raw"``), and per-frame weights ``{name: float [T]}`` (attention
maps of one pixel, ``[T', 1, 1]``, kept raw: they are drawn as bars). A layer whose
output has ``T' < T`` time steps (a temporal stride, or the slow pathway of SlowFast, which sees the frames
``linspace(0, T - 1, T')``) gives each frame the map of the time step whose frame is nearest; a layer that returns
several tensors (the two pathways of a SlowFast stage) gives one map per tensor, ``NAME[0]``, ``NAME[1]``.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.data.annotations import VideoRecord
from common.engine.app import parse_config
from common.engine.checkpoint import load_state_dict_verbose
from common.engine.recipe import Recipe, ViewSpec

Maps = dict[str, np.ndarray]


@dataclass
class LoadedModel:
    """A project's model in eval mode with the configuration it was trained with (test flags applied)."""

    recipe: Recipe
    cfg: argparse.Namespace
    model: nn.Module
    device: torch.device
    class_names: list[str]

    def label(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else str(index)


def add_project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="project folder name under projects/, e.g. masnet")


def project_recipe(argv: Sequence[str]) -> tuple[Recipe, list[str]]:
    """The recipe named by ``--project`` and the remaining arguments."""
    from projects import project_names, recipes

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--project", choices=project_names())
    known, rest = pre.parse_known_args(argv)
    if known.project is None:
        raise SystemExit(f"--project is required; choose from {', '.join(project_names())}")
    return recipes()[known.project], rest


def read_labels(path: str | None) -> list[str]:
    """One class name per line (blank lines skipped); empty list for None."""
    if not path:
        return []
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def load_model(recipe: Recipe, argv: Sequence[str], extra_args: Callable[[argparse.ArgumentParser], None],
               prog: str) -> LoadedModel:
    """Parse test.py's flags plus the tool's (``--checkpoint`` fills the run's configuration), build, load."""
    def add_all(parser: argparse.ArgumentParser) -> None:
        add_project_arg(parser)
        extra_args(parser)

    cfg, weights = parse_config(recipe, list(argv), "test", extra_args=add_all, prog=prog)
    device = torch.device(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and device.index is None:  # one GPU per process under torchrun / Slurm
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0")))
                              % torch.cuda.device_count())
    model = recipe.build_model(cfg, log=lambda message: None)
    load_state_dict_verbose(model, weights, strict=True, source=cfg.checkpoint)
    model.to(device).eval()
    names = read_labels(getattr(cfg, "labels", None)) or list(recipe.test_protocol(cfg).class_names or [])
    return LoadedModel(recipe, cfg, model, device, names)


def read_views(loaded: LoadedModel, video: str | Path | VideoRecord, views: ViewSpec,
               view_indices: Sequence[int] | None = None) -> torch.Tensor:
    """uint8 ``[V, 3, T, H, W]``: the project's test views of ``video`` (a file or a frame folder, or an
    annotation's record: a segment keeps its frame range), deterministic.

    ``view_indices`` picks views (``clip_index * num_crops + crop_index``); None = all of them.
    """
    record = video if isinstance(video, VideoRecord) else VideoRecord(str(video), 0, source=str(video))
    path = Path(record.path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    dataset = loaded.recipe.view_dataset(loaded.cfg, [record], views)
    dataset.reader = "frames" if path.is_dir() else "video"
    indices = range(dataset.num_views) if view_indices is None else view_indices
    return torch.stack([dataset[index]["clip"] for index in indices])


def logits_of(output: Any) -> torch.Tensor:
    """``[B, K]`` logits of a model output; multi-head models (a dict) are explained by their first head."""
    if isinstance(output, dict):
        output = next(iter(output.values()))
    return output


def scores(loaded: LoadedModel, clips: torch.Tensor, softmax: bool = True) -> torch.Tensor:
    """Per-view scores ``[V, K]`` of uint8 clips ``[V, 3, T, H, W]`` (one view per forward pass)."""
    preprocess = loaded.recipe.preprocess(loaded.cfg)
    rows = []
    with torch.no_grad():
        for clip in clips:
            inputs, _ = preprocess(clip[None].to(loaded.device), None, False)
            logits = logits_of(loaded.model(inputs)).float()[0]
            rows.append(logits.softmax(-1) if softmax else logits)
    return torch.stack(rows).cpu()


def top_k(values: torch.Tensor, k: int, names: Callable[[int], str]) -> list[tuple[str, float]]:
    """``[(label, score)]`` of the ``k`` highest of a 1-D score vector."""
    best = values.topk(min(k, values.numel()))
    return [(names(int(index)), float(value)) for value, index in zip(best.values, best.indices)]


# ---------------------------------------------------------------------------------------------------- maps
def _per_step(tensor: torch.Tensor) -> torch.Tensor:
    """A layer output of batch 1 as ``[T', C, h, w]``: 3D-CNN ``[1, C, T', h, w]`` or 2D-CNN ``[T', C, h, w]``."""
    if tensor.dim() == 5:
        return tensor[0].transpose(0, 1)  # [T', C, h, w]
    if tensor.dim() == 4:
        return tensor  # per-frame 2D backbone (TSN-style): the batch axis holds the frames
    raise ValueError(f"Grad-CAM needs a spatial feature map ([1, C, T, h, w] or [T, C, h, w]), got "
                     f"{tuple(tensor.shape)}; choose a convolutional layer with --layer")


def align_to_clip(maps: torch.Tensor, frames: int, size: tuple[int, int]) -> torch.Tensor:
    """``[T', h, w]`` -> ``[T, H, W]``: each frame takes the time step nearest to it (step ``i`` sits at frame
    ``linspace(0, T - 1, T')[i]``, the frames SlowFast's slow pathway sees), then a bilinear resize."""
    steps = maps.shape[0]
    centres = torch.linspace(0, frames - 1, steps)
    nearest = (torch.arange(frames)[:, None] - centres[None]).abs().argmin(1)  # [T]
    maps = maps.float()[nearest]  # [T, h, w]
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]  # [T, H, W]


def normalise(maps: torch.Tensor) -> np.ndarray:
    """Min-max over the whole clip to [0, 1] (a constant map becomes zeros)."""
    low, high = maps.min(), maps.max()
    return ((maps - low) / (high - low).clamp_min(1e-12)).detach().cpu().numpy().astype(np.float32)


def grad_cam(model: nn.Module, inputs: torch.Tensor, layer: str, target: int | None = None,
             softmax_gradient: bool = False) -> tuple[Maps, torch.Tensor, int]:
    """Grad-CAM of ``layer`` for one normalised clip ``inputs`` ``[1, 3, T, H, W]``.

    Per time step, each channel is weighted by the spatial mean of the gradient of the class score, summed, and
    passed through ReLU. The class score is the pre-softmax logit of ``target`` (None: the predicted class);
    ``softmax_gradient`` takes the gradient of the softmax probability instead (what reference scripts that run
    the model with its eval-time softmax produce; the maps then also push down the other classes).

    Returns ``({name: [T, H, W]}, logits [K], target)``.
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        raise KeyError(f"--layer {layer!r} is not a module of {type(model).__name__}; top-level modules: "
                       f"{', '.join(name for name, _ in model.named_children())}")
    captured: list[Any] = []
    handle = modules[layer].register_forward_hook(lambda module, args, output: captured.append(output))
    try:
        with torch.enable_grad():
            logits = logits_of(model(inputs))[0].float()  # [K]
            target = int(logits.argmax()) if target is None else target
            score = logits.softmax(-1)[target] if softmax_gradient else logits[target]
            outputs = captured[-1]
            tensors = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            grads = torch.autograd.grad(score, tensors, allow_unused=True)
    finally:
        handle.remove()
    maps: Maps = {}
    frames, size = inputs.shape[2], tuple(inputs.shape[-2:])
    for index, (activation, grad) in enumerate(zip(tensors, grads)):
        name = layer if len(tensors) == 1 else f"{layer}[{index}]"
        activation = _per_step(activation.detach())
        grad = torch.zeros_like(activation) if grad is None else _per_step(grad)
        weights = grad.mean((2, 3), keepdim=True)  # [T', C, 1, 1]
        cam = F.relu((weights * activation).sum(1))  # [T', h, w]
        maps[name] = normalise(align_to_clip(cam, frames, size))
    return maps, logits.detach().cpu(), target


@dataclass
class Attention:
    """The model's own attention over one clip: ``maps`` (``[T, H, W]`` maps and ``[T]`` weights, see the module),
    ``logits`` ``[K]`` of the forward pass that gave them (None when the recipe returns none) and ``raw`` (the
    recipe's maps at the model's resolution and the logits: what ``--edit-attention`` takes back)."""

    maps: Maps
    raw: dict[str, np.ndarray]
    logits: torch.Tensor | None


def attention(loaded: LoadedModel, inputs: torch.Tensor, scale: str = "clip") -> Attention:
    """The model's own attention (``Recipe.attention_maps``, which honours the tool's options in ``loaded.cfg``:
    ``query``, ``block``, ``per_head``, ``edit_attention``) aligned to the clip. Maps are normalised over the clip
    (``scale="clip"``) or keep their values, clipped to [0, 1] (``"raw"``: sigmoid or softmax maps)."""
    recipe, cfg = loaded.recipe, loaded.cfg
    edits = dict(getattr(cfg, "edit_attention", None) or [])
    if set(edits) - set(recipe.attention_edits):
        raise SystemExit(f"--edit-attention: projects.{recipe.name} can replace "
                         f"{', '.join(recipe.attention_edits) or 'no attention map'}, not {', '.join(edits)}")
    with torch.no_grad():
        raw = dict(recipe.attention_maps(cfg, loaded.model, inputs))
    logits = raw.pop("logits", None)
    if not raw:
        raise SystemExit(f"projects.{recipe.name} ({cfg.variant}) declares no attention maps "
                         f"(Recipe.attention_maps); use --method gradcam")
    if edits and logits is None:
        raise SystemExit(f"projects.{recipe.name} returned no logits of the edited forward pass")
    frames, size = inputs.shape[2], tuple(inputs.shape[-2:])
    maps: Maps = {}
    for name, value in raw.items():
        value = value.detach().float().cpu()
        if value.shape[-2:] == (1, 1):  # per-frame weights [T', 1, 1] -> [T]
            maps[name] = align_to_clip(value, frames, (1, 1))[:, 0, 0].numpy()
            continue
        aligned = align_to_clip(value, frames, size)  # [T, H, W]
        maps[name] = normalise(aligned) if scale == "clip" else aligned.clamp(0, 1).numpy()
    logits = None if logits is None else logits.detach().float().cpu()
    arrays = {name: value.detach().cpu().numpy() for name, value in raw.items()}
    return Attention(maps, arrays if logits is None else {**arrays, "logits": logits.numpy()}, logits)


def shard(items: Sequence[Any]) -> list[Any]:
    """This process's share of ``items`` under torchrun (``RANK``, ``WORLD_SIZE``) or Slurm (``SLURM_PROCID``,
    ``SLURM_NTASKS``): items ``rank, rank + world, ...``; all of them in a single process. No process group is
    needed: every process works alone."""
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    world = int(os.environ.get("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1")))
    if not 0 <= rank < world:
        raise SystemExit(f"rank {rank} outside a world of {world} processes")
    return list(items)[rank::world]


def default_layer(recipe: Recipe, model: nn.Module, inputs: torch.Tensor) -> str:
    """The recipe's first ``explain_layers``; else the last top-level module whose output is a feature map."""
    if recipe.explain_layers:
        return recipe.explain_layers[0]
    shapes: dict[str, bool] = {}
    handles = [module.register_forward_hook(
        lambda module, args, output, name=name: shapes.__setitem__(
            name, all(torch.is_tensor(t) and t.dim() in (4, 5)
                      for t in (output if isinstance(output, (list, tuple)) else [output]))))
        for name, module in model.named_children()]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    spatial = [name for name, ok in shapes.items() if ok]
    if not spatial:
        raise SystemExit(f"no top-level module of {type(model).__name__} returns a feature map; pass --layer")
    return spatial[-1]
