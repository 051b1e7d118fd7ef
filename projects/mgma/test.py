"""Test MGMA (multi-view, fully convolutional): ``python -m projects.mgma.test --checkpoint CKPT ...``."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/mgma && python test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import test
from projects.mgma.recipe import RECIPE


def main(argv: Sequence[str] | None = None):
    return test(RECIPE, argv)


if __name__ == "__main__":
    main()
