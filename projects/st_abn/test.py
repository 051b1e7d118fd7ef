"""Test an ST-ABN checkpoint (ours or the reference's): ``python -m projects.st_abn.test --checkpoint CKPT ...``.

``--num-clips 1 --num-crops 1`` (the default) is the reference's protocol; more views are averaged. The flags and
the protocol are in ``recipe.py``; the shared entry point is ``common.engine.app.test``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/st_abn && python test.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.engine.app import test
from projects.st_abn.recipe import RECIPE


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    return test(RECIPE, argv)


if __name__ == "__main__":
    main()
