"""Train ST-ABN (or its slow-only baseline): ``python -m projects.st_abn.main --preset sthv1_st_abn_32 ...``.

The flags, presets and recipe are in ``recipe.py`` (``--help`` lists them with their defaults); the shared entry
point is ``common.engine.app.train``. ``cd projects/st_abn && python main.py`` works too.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/st_abn && python main.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import train
from common.engine.trainer import TrainResult
from projects.st_abn.recipe import RECIPE


def main(argv: Sequence[str] | None = None) -> TrainResult:
    return train(RECIPE, argv)


if __name__ == "__main__":
    main()
