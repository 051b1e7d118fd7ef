#!/usr/bin/env bash
# Test MGMA-R3D-34, SA (spatial attention only), 8 groups, UCF101 split 1:
# Expected (ucf101_r3d34_sa_g8, 3x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# 3 clip(s) x 1 crop at 128, softmax per head position averaged (fully convolutional), summed over a video's clips; the last
# checkpoint, as the reference tests it.
set -euo pipefail
DATA=${DATA:-data/ucf101}
OUT=${OUT:-runs/mgma/ucf101_r3d34_sa_g8}
CHECKPOINT=${CHECKPOINT:-$OUT/checkpoints/last.pth}  # or a reference checkpoint_epoch_00050.pyth
cd "$(dirname "$0")/../../.."
python -m projects.mgma.test --preset ucf101_r3d34_sa_g8 --data-root "$DATA" --checkpoint "$CHECKPOINT" \
    --output-dir "$OUT/test_3x1" "$@"
