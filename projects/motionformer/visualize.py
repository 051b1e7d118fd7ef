"""Trajectory attention of one query patch over every frame: a wrapper of ``common.tools.explain --method attention``.

    python -m projects.motionformer.visualize --checkpoint k400_motionformer_224_16x4.pyth \\
        --variant motionformer_224_16x4 --video clip.mp4 --query 4 7 7 --block 11 --out attention.png

``RECIPE.attention_maps`` gives block ``--block``'s (default the last; negative counts from the end) stage-1
attention of the query patch (token frame, row, column; default: the centre of the middle token frame) to each
token frame (where the query's trajectory is in that frame): one grid row per head (``--per-head``, the default
here; ``--no-per-head`` keeps the mean only) and their mean, each frame under a bar of its stage-2 weight.
``--out X.png`` is the grid; the other outputs of ``common.tools.explain`` (per-frame overlays, mp4, ``maps.npz``)
go to the folder ``X/``. ``--stride`` is the shared ``--sampling-rate``; every flag of ``common.tools.explain`` works.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/motionformer && python visualize.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.tools import explain


def main(argv: Sequence[str] | None = None) -> Path:
    argv = ["--sampling-rate" if arg == "--stride" else arg for arg in (sys.argv[1:] if argv is None else argv)]
    png = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path("trajectory_attention.png")
    folder = png.with_suffix("")
    if "--out" in argv:
        argv[argv.index("--out") + 1] = str(folder)
    else:
        argv += ["--out", str(folder)]
    (summary,) = explain.main(["--project", "motionformer", "--method", "attention", "--per-head", *argv])
    shutil.copyfile(next(iter(summary["explained"].values()))["grid"], png)
    print(png)
    return png


if __name__ == "__main__":
    main()
