"""SIGTERM and Ctrl-C during training: remembered by a handler, acted on at the next optimiser step, on every rank
at the same step (Slurm sends SIGTERM before the time limit; ``kill`` and schedulers send it too), and the exit
status that tells a scheduler an interrupted run from a finished one.

Exit status of the training entry points: 0 finished (or ``--max-steps`` reached); 143 (128 + SIGTERM) interrupted
by SIGTERM, 130 (128 + SIGINT) interrupted by Ctrl-C, both after a checkpoint was saved (continue with
``--resume auto``); 1 an error. A rank stopped by another rank's signal exits 143.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

import torch

from common.distributed import all_reduce_sum


class StopSignals:
    """The first SIGTERM / SIGINT sets :attr:`signum`; a second Ctrl-C raises ``KeyboardInterrupt`` at once."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signum = signum  # no I/O here: the handler may interrupt a write to the same log file

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGTERM and SIGINT inside the block (main thread only), restoring the previous handlers after."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def requested(self, distributed: bool, device: torch.device) -> bool:
        """Whether any rank got a signal (collective when ``distributed``: every rank must stop at the same step)."""
        flag = torch.tensor([1.0 if self.signum is not None else 0.0])
        if distributed:
            flag = all_reduce_sum(flag.to(device)).cpu()
        return bool(flag.item() > 0)

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "a signal on another rank"


def exit_status(status: str, signum: int | None) -> int:
    """The process exit status for a :class:`~common.engine.trainer.TrainResult` status (see the module doc)."""
    if status != "interrupted":
        return 0
    return 128 + (signum if signum is not None else signal.SIGTERM)
