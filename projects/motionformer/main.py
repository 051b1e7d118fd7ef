"""Train a Motionformer: ``python -m projects.motionformer.main --preset k400_motionformer_224_16x4 ...``.

The flags, presets and recipe are in ``recipe.py`` (``--help`` lists them with their defaults); the shared entry
point is ``common.engine.app.train``. ``cd projects/motionformer && python main.py`` works too.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/motionformer && python main.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import train
from common.engine.trainer import TrainResult
from projects.motionformer.recipe import RECIPE


def main(argv: Sequence[str] | None = None) -> TrainResult:
    return train(RECIPE, argv)


if __name__ == "__main__":
    sys.exit(main().exit_code)  # 143 / 130 after SIGTERM / Ctrl-C (saved; resume with --resume auto)
