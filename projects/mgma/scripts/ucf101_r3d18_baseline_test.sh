#!/usr/bin/env bash
# Test the reference's R3D-18 baseline (MGMA.TYPE NONE: SE in every unit), UCF101 split 1:
# Expected (ucf101_r3d18_baseline, 3x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# 3 clip(s) x 1 crop at 128, softmax per head position averaged (fully convolutional), summed over a video's clips; the last
# checkpoint, as the reference tests it.
set -euo pipefail
DATA=${DATA:-data/ucf101}
OUT=${OUT:-runs/mgma/ucf101_r3d18_baseline}
CHECKPOINT=${CHECKPOINT:-$OUT/checkpoints/last.pth}  # or a reference checkpoint_epoch_00050.pyth
cd "$(dirname "$0")/../../.."
python -m projects.mgma.test --preset ucf101_r3d18_baseline --data-root "$DATA" --checkpoint "$CHECKPOINT" \
    --output-dir "$OUT/test_3x1" "$@"
