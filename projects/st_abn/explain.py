"""ST-ABN's own attention over videos, in the reference's figure style: a wrapper of ``common.tools.explain``.

    python -m projects.st_abn.explain --checkpoint runs/sthv1_st_abn_32/checkpoints/best.pth \\
        --data-root /data/sthv1/frames --video 100218 100219 --out explain/
    torchrun --nproc-per-node 4 -m projects.st_abn.explain --preset sthv1_st_abn_32 --checkpoint epoch_150.pth \\
        --data-root /data/sthv1/frames --val-list val_videofolder.txt --limit 50 --reference-boundary --out explain/

The flags are test.py's (``--preset``, ``--config``, the checkpoint's stored configuration) and the shared tool's;
``--video`` takes frame folders or video files (relative ones under ``--data-root``), without it the first
``--limit`` videos of ``--val-list`` are explained, each in the reference's test view; under torchrun each process
explains its share. The defaults draw the reference's ``-s`` figures: ``--method attention --colormap jet
--overlay-alpha 0.4 --scale raw`` (the raw sigmoid map ``A_s``, bilinearly resized, JET, blended ``0.6 frame + 0.4
map``) and the temporal weights ``A_t`` as a 25-pixel JET bar over each frame, min-max normalised over the clip;
any of these flags overrides them. Per video and class: ``input/`` (the frames), ``spatial_attention/``,
``temporal_attention/`` (the bar over the frame), ``grid.png`` and ``overlay.mp4`` (each image under the bar),
``maps.npz``; per video ``attention.npz`` (``spatial_attention [T, h, w]``, ``temporal_attention [T, 1, 1]``,
``logits``) and ``summary.json`` (top-5).

The reference's spellings: ``--reference-boundary`` (= ``--bar-ends exclude``: the first and last weights, from a
zero-padded convolution, out of the min-max and drawn raw) and ``--temporal-attention w1 ... wT`` (=
``--edit-attention temporal_attention=w1,...,wT``: the perception branch re-run with these weights, attention
editing as the authors' AttentionEditor; ``temporal_attention=FILE.npz`` takes an edited ``attention.npz``).
Videos go through the model one at a time (``--test-batch-size`` is accepted and has no effect here).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # `cd projects/st_abn && python explain.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common.tools import explain

REFERENCE_STYLE = ["--method", "attention", "--colormap", "jet", "--overlay-alpha", "0.4", "--scale", "raw"]
RENAMED = {"--reference-boundary": ["--bar-ends", "exclude"], "--no-reference-boundary": ["--bar-ends", "include"]}


def translate(argv: Sequence[str]) -> list[str]:
    """The reference's spellings as the shared tool's flags."""
    translated: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--temporal-attention":
            end = index + 1
            while end < len(argv) and not argv[end].startswith("--"):
                end += 1
            translated += ["--edit-attention", "temporal_attention=" + ",".join(argv[index + 1:end])]
            index = end
            continue
        translated += RENAMED.get(arg, [arg])
        index += 1
    return translated


def main(argv: Sequence[str] | None = None) -> list[dict]:
    argv = list(sys.argv[1:] if argv is None else argv)
    return explain.main(["--project", "st_abn", *REFERENCE_STYLE, *translate(argv)])


if __name__ == "__main__":
    main()
