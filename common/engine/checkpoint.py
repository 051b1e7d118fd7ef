"""Checkpoints: atomic writes, safe loading, last / best / every-N bookkeeping, resume, state-dict unwrapping.

* Writes go to a temporary file in the same directory, are fsync'ed and then ``os.replace``d over the target, so
  a crash mid-write leaves the previous file intact.
* Every load uses ``torch.load(..., weights_only=True)``: a checkpoint is untrusted input. torch >= 2.10 is
  required because earlier releases have code-execution holes in that unpickler (CVE-2025-32434,
  CVE-2026-24747).
* :class:`CheckpointManager` keeps ``checkpoints/last.pth``, ``checkpoints/best.pth`` (by the validation metric)
  and optionally ``checkpoints/epoch_XXXX.pth``; ``resume("auto")`` loads the newest file that reads completely,
  skipping a truncated or corrupted one with a message.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

MINIMUM_TORCH = (2, 10)


def _torch_version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split("+")[0].split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


if _torch_version_tuple(torch.__version__) < MINIMUM_TORCH:
    raise ImportError(
        f"torch {torch.__version__} is too old: this project needs torch >= 2.10 because earlier releases have "
        f"code-execution vulnerabilities in torch.load(weights_only=True) (CVE-2025-32434, CVE-2026-24747), "
        f"which is how checkpoints are read. Upgrade with: pip install 'torch>=2.10'")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupted or holds something unexpected (the message names it)."""


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` through a temporary file + fsync + ``os.replace`` (never a half-written target)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file and say what to do."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for truncated / foreign files
        text = str(error)
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if refused:
            raise CheckpointError(
                f"{path} contains a Python object ({refused.group(1)}) that a weights-only load refuses because "
                f"unpickling it may run code. If you trust the file, re-save its tensors only, e.g. "
                f"torch.save(ckpt['state_dict'], 'clean.pth')") from error
        raise CheckpointError(f"{path} cannot be read (truncated, corrupted or not a PyTorch file): "
                              f"{type(error).__name__}: {' '.join(text.split())[:200]}") from error


def unwrap_state_dict(checkpoint: Any) -> dict[str, torch.Tensor]:
    """The model weights inside a checkpoint: takes ``model_state`` / ``state_dict`` / ``model`` / ``module``
    containers (PySlowFast, TSM, timm, DeiT layouts) and strips ``module.`` (DataParallel/DDP) and ``_orig_mod.``
    (torch.compile) prefixes."""
    state = checkpoint
    while isinstance(state, Mapping):
        inner = next((state[key] for key in ("model_state", "state_dict", "model", "module")
                      if key in state and isinstance(state[key], Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("no state dict of tensors found (looked in model_state, state_dict, model, module)")
    unwrapped = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        unwrapped[key] = value
    return unwrapped


def load_state_dict_verbose(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True,
                            log: Callable[[str], None] = print,
                            ignore_missing: Callable[[str], bool] = lambda key: key.endswith("num_batches_tracked"),
                            ) -> tuple[list[str], list[str]]:
    """Load weights and report missing / unexpected / shape-mismatched keys by name.

    With ``strict`` any problem raises ``CheckpointError`` listing the keys; otherwise they are logged.
    ``ignore_missing`` names keys whose absence is harmless (default: BatchNorm ``num_batches_tracked``, which
    pre-1.0 files lack). Returns ``(missing, unexpected)``.
    """
    own = model.state_dict()
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = [k for k in own if k not in state_dict and not ignore_missing(k)]
    unexpected = [k for k in state_dict if k not in own]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {', '.join(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {', '.join(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} with another shape: {', '.join(mismatched)}")
    if problems and strict:
        raise CheckpointError("state dict does not match the model; " + "; ".join(problems))
    for problem in problems:
        log(f"load_state_dict: {problem}")
    usable = {k: v for k, v in state_dict.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(usable, strict=False)
    return missing, unexpected


def load_pretrained(model: nn.Module, path: str | os.PathLike | None,
                    converter: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
                    strict: bool = True, log: Callable[[str], None] = print) -> tuple[list[str], list[str]]:
    """Initialise ``model`` from a weights file given by path (nothing is ever downloaded).

    ``converter`` maps a reference implementation's keys to ours (a project's ``convert_reference_state_dict``
    with the variant bound). Use ``strict=False`` for fine-tuning with another head; missing keys are then logged.
    """
    if path is None or not Path(path).is_file():
        raise CheckpointError(
            f"pretrained weights {path} not found. This project never downloads: fetch the file named in the "
            f"project README (e.g. the ImageNet or Kinetics checkpoint) and pass its path.")
    state = unwrap_state_dict(load_checkpoint(path))
    if converter is not None:
        state = converter(state)
    log(f"loading pretrained weights from {path} ({len(state)} tensors)")
    return load_state_dict_verbose(model, state, strict=strict, log=log)


def capture_rng_state() -> dict[str, Any]:
    """torch (CPU and every CUDA device), numpy and python RNG states, in weights-only-loadable types."""
    numpy_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)), "position": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointManager:
    """Keeps ``last.pth``, ``best.pth`` and optionally ``epoch_XXXX.pth`` in ``directory`` (main process only).

    Args:
        directory: the run's ``checkpoints/`` folder.
        save_every: also keep ``epoch_XXXX.pth`` every N epochs (0 = never).
        is_main: only the main process writes; the others' ``save`` is a no-op.
        log: where messages go (the run logger's ``info``).
    """

    def __init__(self, directory: str | os.PathLike, save_every: int = 0, is_main: bool = True,
                 log: Callable[[str], None] = print) -> None:
        self.directory = Path(directory)
        self.save_every = save_every
        self.is_main = is_main
        self.log = log

    @property
    def last_path(self) -> Path:
        return self.directory / "last.pth"

    @property
    def best_path(self) -> Path:
        return self.directory / "best.pth"

    def save(self, state: dict[str, Any], epoch_finished: int | None = None, is_best: bool = False) -> None:
        """Write ``state`` to ``last.pth``; also to ``best.pth`` when ``is_best`` and to ``epoch_XXXX.pth`` when
        ``epoch_finished`` (1-based count of finished epochs) is a multiple of ``save_every``."""
        if not self.is_main:
            return
        atomic_save(state, self.last_path)
        if is_best:
            atomic_save(state, self.best_path)
        if epoch_finished is not None and self.save_every > 0 and epoch_finished % self.save_every == 0:
            atomic_save(state, self.directory / f"epoch_{epoch_finished:04d}.pth")

    def candidates(self) -> list[Path]:
        """Checkpoint files of the directory, newest modification first."""
        if not self.directory.is_dir():
            return []
        files = [p for p in self.directory.glob("*.pth") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: p.stat().st_mtime_ns, reverse=True)

    def resume(self, spec: str | None, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """Load the checkpoint to resume from: ``None`` -> nothing; ``"auto"`` -> the newest complete file of the
        directory (``None`` if there is none: fresh start); otherwise the given path (which must exist)."""
        if spec is None:
            return None
        if spec != "auto":
            self.log(f"resuming from {spec}")
            return load_checkpoint(spec, map_location)
        for path in self.candidates():
            try:
                state = load_checkpoint(path, map_location)
            except CheckpointError as error:
                self.log(f"skipping unreadable checkpoint: {error}")
                continue
            if not isinstance(state, dict) or "model" not in state or "step" not in state:
                self.log(f"skipping {path}: not a training checkpoint of this engine")
                continue
            self.log(f"resuming from {path} (epoch {state['epoch']}, step {state['step']})")
            return state
        self.log(f"no complete checkpoint in {self.directory}; starting from scratch")
        return None
