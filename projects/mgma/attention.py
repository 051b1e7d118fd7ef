"""Where and when MGMA attends: a wrapper of the shared ``common.tools.explain --method attention``.

    python -m projects.mgma.attention --checkpoint runs/r3d34_tsa/checkpoints/last.pth --video v_YoYo_g01_c01.avi \\
        --unit layer3.1 --output-dir runs/r3d34_tsa/attention

Each MGMA unit's branch maps (T, S or U) and the combined ``A`` the unit multiplies its output by ``1 + A``,
averaged over channels (``RECIPE.attention_maps``), over the test view ``--clip-index`` of ``--num-clips``:
``grid.png`` (one row per map), per-frame overlays, ``overlay.mp4`` and ``maps.npz`` (maps aligned to the clip's
frames and size). ``--unit`` keeps one unit (default: every unit); every flag of ``common.tools.explain`` works.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/mgma && python attention.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.tools import explain

RENAMED = {"--output-dir": "--out", "--unit": "--maps"}


def main(argv: Sequence[str] | None = None) -> list[dict]:
    argv = list(sys.argv[1:] if argv is None else argv)
    translated = []
    for index, arg in enumerate(argv):
        previous = argv[index - 1] if index else ""
        translated.append(f"{arg}/" if previous == "--unit" else RENAMED.get(arg, arg))
    return explain.main(["--project", "mgma", "--method", "attention", *translated])


if __name__ == "__main__":
    main()
