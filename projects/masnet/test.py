"""Multi-view test of a MAS-Net checkpoint with the reference protocols: ``python -m projects.masnet.test
--checkpoint RUN/checkpoints/best.pth ...`` (the run's own configuration fills the defaults; flags win).

The views and flags are in ``recipe.py``; the shared entry point is ``common.engine.app.test``. Writes
``scores.npz``, ``metrics.json`` and the confusion matrix into ``--output-dir``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/masnet && python test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import test
from projects.masnet.recipe import RECIPE


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    return test(RECIPE, argv)


if __name__ == "__main__":
    main()
