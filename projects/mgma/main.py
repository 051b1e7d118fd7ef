"""Train MGMA: ``python -m projects.mgma.main --preset ucf101_r3d34_tsa_g8 --data-root DATA ...``."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/mgma && python main.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import train
from projects.mgma.recipe import RECIPE


def main(argv: Sequence[str] | None = None):
    return train(RECIPE, argv)


if __name__ == "__main__":
    main()
