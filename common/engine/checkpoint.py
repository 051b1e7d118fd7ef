"""Checkpoints: atomic writes, safe loading, last / best / every-N bookkeeping, resume, state-dict unwrapping.

* Writes go to a temporary file in the same directory, are fsync'ed and then ``os.replace``d over the target, so
  a crash mid-write leaves the previous file intact.
* Every load uses ``torch.load(..., weights_only=True)``: a checkpoint is untrusted input. torch >= 2.10 is
  required because earlier releases have code-execution holes in that unpickler (CVE-2025-32434,
  CVE-2026-24747).
* :class:`CheckpointManager` keeps ``checkpoints/last.pth``, ``checkpoints/best.pth`` (by the validation metric)
  and optionally ``checkpoints/epoch_XXXX.pth``; ``resume("auto")`` loads the newest file that reads completely,
  skipping a truncated or corrupted one with a message. On start it removes the temporary files of writers that
  were killed (the name carries host and pid) and rewrites, or reports, ``--save-every`` snapshots a kill lost.
* :func:`load_finetune_weights` refuses a checkpoint whose weights do not fit the model (all but the classifier
  must match by name and shape) instead of silently training from scratch.
"""
from __future__ import annotations

import errno
import os
import random
import re
import socket
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


_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.tmp(?P<pid>\d+)(?:@(?P<host>.+))?$")


def _temporary_name(path: Path) -> Path:
    """``.NAME.tmpPID@HOST``: the writer's identity, so a later start can tell a dead writer's debris."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}@{socket.gethostname()}")


def _write_failure(path: Path, error: BaseException) -> str:
    """What went wrong writing ``path`` and what to do (torch hides an OSError in the exception chain)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"cannot write checkpoint {path}: {os.strerror(cause.errno)}. Free space on that file system "
                f"(df -h {path.parent}) or pass another --output-dir, then continue with --resume auto; "
                f"the previous {path.name}, if any, is intact")
    reason = cause if cause is not None else error
    return (f"cannot write checkpoint {path}: {type(reason).__name__}: {' '.join(str(reason).split())[:200]}; "
            f"the previous {path.name}, if any, is intact")


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` through a temporary file + fsync + ``os.replace`` (never a half-written target).

    A failed write (a full disk, a quota) raises :class:`CheckpointError` naming the file and what to do."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    try:
        with open(temporary, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except Exception as error:
        raise CheckpointError(_write_failure(path, error)) from error
    finally:
        if temporary.exists():
            temporary.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of :func:`atomic_save` whose writer (same host) no longer runs; returns them.

    A killed writer leaves its temporary behind (up to the size of a whole checkpoint). Files of live processes
    and of other hosts are kept."""
    removed = []
    here = socket.gethostname()
    for candidate in Path(directory).glob(".*.tmp*"):
        match = _TEMPORARY.match(candidate.name)
        if match is None or (match["host"] or here) != here or _pid_alive(int(match["pid"])):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


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


def unwrap_state_dict(checkpoint: Any, source: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """The model weights inside a checkpoint: takes ``model_state`` / ``state_dict`` / ``model`` / ``module``
    containers (PySlowFast, TSM, timm, DeiT layouts) and strips ``module.`` (DataParallel/DDP) and ``_orig_mod.``
    (torch.compile) prefixes. ``source`` (the file) goes into the error message."""
    state = checkpoint
    while isinstance(state, Mapping):
        inner = next((state[key] for key in ("model_state", "state_dict", "model", "module")
                      if key in state and isinstance(state[key], Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source or 'checkpoint'}: no state dict of tensors found (looked in model_state, "
                              f"state_dict, model, module)")
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
                            source: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """Load weights and report missing / unexpected / shape-mismatched keys by name.

    With ``strict`` any problem raises ``CheckpointError`` listing the keys; otherwise they are logged.
    ``ignore_missing`` names keys whose absence is harmless (default: BatchNorm ``num_batches_tracked``, which
    pre-1.0 files lack). ``source`` (the file) starts the messages. Returns ``(missing, unexpected)``.
    """
    own = model.state_dict()
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = [k for k in own if k not in state_dict and not ignore_missing(k)]
    unexpected = [k for k in state_dict if k not in own]
    problems = [f"{len(keys)} {what}: {', '.join(keys)}" for keys, what in
                ((missing, "missing"), (unexpected, "unexpected"), (mismatched, "with another shape")) if keys]
    if problems and strict:
        raise CheckpointError(f"{source or 'state dict'} does not match the model; " + "; ".join(problems))
    for problem in problems:
        log(f"load_state_dict: {problem}")
    usable = {k: v for k, v in state_dict.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(usable, strict=False)
    return missing, unexpected


def _first(keys: list[str], count: int = 5) -> str:
    return ", ".join(keys[:count]) + (f", ... ({len(keys)} in all)" if len(keys) > count else "")


def load_finetune_weights(model: nn.Module, path: str | os.PathLike, *, classifier_prefixes: tuple[str, ...],
                          converter: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
                          log: Callable[[str], None] = print,
                          ignore_missing: Callable[[str], bool] = lambda key: key.endswith("num_batches_tracked"),
                          ) -> list[str]:
    """Initialise ``model`` for fine-tuning from the checkpoint at ``path``; refuse one that does not fit.

    Every weight outside the classifier (keys starting with one of ``classifier_prefixes``) must be in the file
    with the model's shape, and the file may hold no other non-classifier weights; otherwise
    :class:`CheckpointError` names the file and the first mismatching keys (a checkpoint of another architecture
    would otherwise load nothing and the run would train from scratch). Classifier weights whose shape differs (a
    new class count) or that the file lacks keep their fresh initialisation, which is logged. ``converter`` maps a
    reference implementation's keys to ours. Returns the re-initialised classifier keys.
    """
    state = unwrap_state_dict(load_checkpoint(path), path)
    if converter is not None:
        state = converter(state)
    own = model.state_dict()

    def is_head(key: str) -> bool:
        return key.startswith(tuple(classifier_prefixes))

    missing = [k for k in own if not is_head(k) and k not in state and not ignore_missing(k)]
    unexpected = [k for k in state if not is_head(k) and k not in own]
    reshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                if not is_head(k) and k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or reshaped:
        problems = [f"{len(found)} {what}: {_first(found)}" for found, what in (
            (missing, "model weights not in the file"), (unexpected, "weights the model does not have"),
            (reshaped, "with another shape (file vs model)")) if found]
        raise CheckpointError(
            f"refusing to fine-tune from {path}: it does not fit this model ({'; '.join(problems)}). It is probably "
            f"a checkpoint of another architecture or variant; pass one of the same --variant (only the classifier "
            f"{'/'.join(classifier_prefixes)} may differ)")
    reinitialised = [k for k in own if is_head(k) and (k not in state or state[k].shape != own[k].shape)]
    usable = {k: v for k, v in state.items() if k in own and k not in reinitialised}
    model.load_state_dict(usable, strict=False)
    log(f"fine-tuning from {path}: {len(usable)} tensors loaded")
    if reinitialised:
        shapes = ", ".join(f"{k} {tuple(state[k].shape)} -> {tuple(own[k].shape)}" if k in state else f"{k} (absent)"
                           for k in reinitialised)
        log(f"classifier re-initialised (its class count differs from the file's, or the file has none): {shapes}")
    return reinitialised


def require_keys(state: Mapping[str, Any], keys: list[str], source: str | os.PathLike, expected: str) -> None:
    """Raise :class:`CheckpointError` naming ``source`` when ``state`` lacks one of ``keys``; ``expected`` says
    what kind of file was wanted (e.g. "a checkpoint of projects.masnet.main or of the MAS-Net reference")."""
    absent = [key for key in keys if key not in state]
    if absent:
        raise CheckpointError(f"{source} is not {expected}: it has no {', '.join(absent)} (its first keys: "
                              f"{_first(list(state), 4)})")


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

    def is_snapshot_epoch(self, epoch_finished: int | None) -> bool:
        """Whether saving after ``epoch_finished`` (1-based count of finished epochs; None: mid-epoch) also keeps
        ``epoch_XXXX.pth``: a multiple of ``save_every``. The same answer on every process."""
        return epoch_finished is not None and self.save_every > 0 and epoch_finished % self.save_every == 0

    def save(self, state: dict[str, Any], epoch_finished: int | None = None, is_best: bool = False) -> None:
        """Write ``state`` to ``best.pth`` when ``is_best``, then to ``last.pth``, then to ``epoch_XXXX.pth`` when
        :meth:`is_snapshot_epoch`. ``best.pth`` comes first: a kill in between leaves the newest complete file (what
        ``--resume auto`` takes) never recording a better ``best_metric`` than the weights in ``best.pth``; a lost
        snapshot is rewritten on resume (:meth:`resume`)."""
        if not self.is_main:
            return
        if is_best:
            atomic_save(state, self.best_path)
        atomic_save(state, self.last_path)
        if self.is_snapshot_epoch(epoch_finished):
            atomic_save(state, self.directory / f"epoch_{epoch_finished:04d}.pth")

    def candidates(self) -> list[Path]:
        """Checkpoint files of the directory, newest modification first."""
        if not self.directory.is_dir():
            return []
        files = [p for p in self.directory.glob("*.pth") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: p.stat().st_mtime_ns, reverse=True)

    def clean_up(self) -> None:
        """Remove killed writers' temporary files from the directory (main process), saying so in the log."""
        if not self.is_main or not self.directory.is_dir():
            return
        for path in remove_stale_temporaries(self.directory):
            self.log(f"removed {path.name}, left by a checkpoint writer that was killed")

    def _restore_snapshots(self, state: dict[str, Any], source: Path) -> None:
        """``--save-every`` snapshots a kill prevented: rewrite the one ``state`` is (the epoch just finished);
        name the others in the log (their state is gone)."""
        if not self.is_main or self.save_every <= 0:
            return
        finished = state["epoch"]
        lost = []
        for epoch in range(self.save_every, finished + 1, self.save_every):
            snapshot = self.directory / f"epoch_{epoch:04d}.pth"
            if snapshot.is_file():
                continue
            if epoch == finished and state.get("batches_done", 0) == 0:
                atomic_save(state, snapshot)
                self.log(f"rewrote missing snapshot {snapshot.name} from {source.name} (a kill interrupted it)")
            else:
                lost.append(snapshot.name)
        if lost:
            self.log(f"snapshots missing and not recoverable (the run was killed while writing them, or they were "
                     f"deleted): {', '.join(lost)}")

    def resume(self, spec: str | None, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """Load the checkpoint to resume from: ``None`` -> nothing; ``"auto"`` -> the newest complete file of the
        directory (``None`` if there is none: fresh start); otherwise the given path, which must be a training
        checkpoint of this engine. Cleans the debris of killed writers first."""
        self.clean_up()
        if spec is None:
            return None
        if spec != "auto":
            state = load_checkpoint(spec, map_location)
            if not _is_training_state(state):
                raise CheckpointError(
                    f"--resume {spec}: not a training checkpoint of this engine (no 'model' and 'step' entries; "
                    f"plain model weights?). --resume continues a run from its checkpoints/last.pth (or use "
                    f"--resume auto); to start from these weights, use the fine-tuning flag (--finetune PATH)")
            self.log(f"resuming from {spec} (epoch {state['epoch']}, step {state['step']})")
            self._restore_snapshots(state, Path(spec))
            return state
        for path in self.candidates():
            try:
                state = load_checkpoint(path, map_location)
            except CheckpointError as error:
                self.log(f"skipping unreadable checkpoint: {error}")
                continue
            if not _is_training_state(state):
                self.log(f"skipping {path}: not a training checkpoint of this engine")
                continue
            self.log(f"resuming from {path} (epoch {state['epoch']}, step {state['step']})")
            self._restore_snapshots(state, path)
            return state
        self.log(f"no complete checkpoint in {self.directory}; starting from scratch")
        return None


def _is_training_state(state: Any) -> bool:
    return isinstance(state, dict) and "model" in state and "step" in state and "epoch" in state
