"""Multi-view test of a CMDA SlowFast checkpoint, ours or the reference's ``.pyth``:
``python -m projects.efficient_slowfast.test --checkpoint RUN/checkpoints/best.pth --output-dir RUN/test``.

The flags, presets and recipe are in ``recipe.py`` (``--help`` lists them with their defaults); the shared entry
point is ``common.engine.app.test``. ``cd projects/efficient_slowfast && python test.py`` works too.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/efficient_slowfast && python test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import test
from projects.efficient_slowfast.recipe import RECIPE


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    return test(RECIPE, argv)


if __name__ == "__main__":
    main()
