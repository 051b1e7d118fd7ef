"""Run logging: TensorBoard scalars (tensorboardX), a plain-text log, and a curves PNG refreshed during the run.

Only the main process writes; on the other ranks every method is a no-op, so callers never branch on the rank.
Scalars are also kept in memory (``history``) so the trainer can checkpoint them and the curves PNG of a resumed
run covers the whole run.

``refresh_curves`` redraws ``curves.png`` after an epoch unless drawing would take more than
``CURVES_TIME_SHARE`` of the run: matplotlib needs about a second per draw, so a paper run (epochs of minutes)
gets a fresh PNG every epoch while a tiny run of 3-second epochs gets one every few epochs (and always at the end).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

from common.plots import save_curve_panels_png

# Which PNG panel each scalar tag goes to; tags not listed get a panel named after their suffix.
PANEL_OF_TAG = {"train/loss": "loss", "val/loss": "loss", "train/lr": "learning rate",
                "train/top1": "top-1 (%)", "val/top1": "top-1 (%)", "train/top5": "top-5 (%)", "val/top5": "top-5 (%)",
                "train/data_time": "time per step (s)", "train/step_time": "time per step (s)",
                "train/clips_per_second": "throughput (clips/s)", "train/gpu_memory_gib": "GPU memory (GiB)"}
CURVES_TIME_SHARE = 0.1  # the most of a run's wall time that mid-run redraws of curves.png may take


def tensorboard_hint() -> str:
    """How to get the TensorBoard viewer when it is missing (tensorboardX writes the events without it), else ""."""
    if importlib.util.find_spec("tensorboard") is not None:
        return ""
    return f" (the viewer is not installed: {sys.executable} -m pip install tensorboard)"


class RunLogger:
    """TensorBoard + text log + in-memory history for one run directory.

    Args:
        output_dir: the run directory; events go to ``tensorboard/``, text to ``log.txt`` (appended, so a resumed
            run keeps its earlier lines).
        is_main: whether this process writes.
        echo: also print text lines to stdout (through ``tqdm.write`` so progress bars stay intact).
    """

    def __init__(self, output_dir: str | os.PathLike, is_main: bool = True, echo: bool = True) -> None:
        self.output_dir = Path(output_dir)
        self.is_main = is_main
        self.echo = echo
        self.history: dict[str, list[tuple[float, float]]] = {}
        self._writer = None
        self._text = None
        self._curves_drawn: tuple[float, float] | None = None  # (when the last redraw ended, how long it took)
        if is_main:
            from tensorboardX import SummaryWriter

            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(logdir=str(self.output_dir / "tensorboard"))
            self._text = open(self.output_dir / "log.txt", "a", encoding="utf-8")

    def info(self, message: str) -> None:
        """A timestamped line in ``log.txt`` (and on stdout)."""
        if not self.is_main:
            return
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}"
        self._text.write(line + "\n")
        self._text.flush()
        if self.echo:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stdout)

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Log ``{tag: value}`` at global ``step`` to TensorBoard and the history."""
        if not self.is_main:
            return
        for tag, value in values.items():
            self._writer.add_scalar(tag, float(value), step)
            self.history.setdefault(tag, []).append((float(step), float(value)))

    def state_dict(self) -> dict[str, Any]:
        return {"history": {tag: [list(point) for point in points] for tag, points in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = {tag: [tuple(point) for point in points] for tag, points in state["history"].items()}

    def save_curves(self, path: str | os.PathLike | None = None, title: str = "") -> Path | None:
        """Write the training curves PNG (loss, lr, accuracy, timing panels) from the history."""
        if not self.is_main or not self.history:
            return None
        panels: dict[str, dict[str, list[tuple[float, float]]]] = {}
        known_order = list(PANEL_OF_TAG)
        tags = sorted(self.history, key=lambda t: (known_order.index(t) if t in known_order else len(known_order), t))
        for tag in tags:
            panel = PANEL_OF_TAG.get(tag, tag.split("/")[-1])
            panels.setdefault(panel, {})[tag] = self.history[tag]
        path = Path(path) if path is not None else self.output_dir / "curves.png"
        return save_curve_panels_png(panels, path, title=title or self.output_dir.name, xlabel="optimiser step",
                                     log_y=("learning rate",))

    def refresh_curves(self) -> Path | None:
        """Redraw ``curves.png`` mid-run, unless less than ``draw time / CURVES_TIME_SHARE`` passed since the last
        redraw (the first call always draws)."""
        now = time.monotonic()
        if self._curves_drawn is not None:
            ended, took = self._curves_drawn
            if now - ended < took / CURVES_TIME_SHARE:
                return None
        path = self.save_curves()
        ended = time.monotonic()
        self._curves_drawn = (ended, ended - now)
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._text is not None:
            self._text.close()
            self._text = None
