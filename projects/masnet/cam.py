"""Grad-CAM of MAS-Net (the reference's ``CAM.py``): a wrapper of the shared ``common.tools.explain``.

    python -m projects.masnet.cam --checkpoint runs/ssv1_8f/checkpoints/best.pth \
        --data-root /data --video somethingv1/20bn-something-something-v1/100218 --out cam/100218

Every flag of ``python -m common.tools.explain`` works (``--class`` / ``--class-index``, ``--top-k``, ``--layer``,
``--list``, ...); the default layer is the last ResNet stage (``RECIPE.explain_layers``), where Grad-CAM equals the
reference's CAM (fc weights times features) up to a positive factor: with MAS-Net's head (global average pool,
linear, mean over frames) the spatially averaged gradient is the classifier row over the map size and T. A relative
``--video`` is read under ``--data-root``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/masnet && python cam.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.tools import explain


def main(argv: Sequence[str] | None = None) -> list[dict]:
    argv = ["--class" if arg == "--class-index" else arg for arg in (sys.argv[1:] if argv is None else argv)]
    if "--video" in argv and "--data-root" in argv:
        video, root = argv[argv.index("--video") + 1], argv[argv.index("--data-root") + 1]
        argv[argv.index("--video") + 1] = str(Path(root) / video)  # absolute paths are kept by the join
    return explain.main(["--project", "masnet", *argv])


if __name__ == "__main__":
    main()
