#!/usr/bin/env bash
# Test the slow-only R50 baseline (sthv2_slowonly_32).
# Expected (sthv2_slowonly_32, 1x1 clips x crops, paper table not retrieved): top1 not published
# Views: the reference protocol (1 clip x 1 centre crop), then 2 clips x 3 crops.
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the frame folders, files named {:06d}.jpg}
VAL_LIST=${VAL_LIST:-$DATA_ROOT/val_videofolder.txt}
RUNS=${RUNS:-runs/st_abn}
cd "$(dirname "$0")/../../.."
# CHECKPOINT: ours, or a reference epoch_*.pth (converted on load)
CHECKPOINT=${CHECKPOINT:-$RUNS/sthv2_slowonly_32/checkpoints/best.pth}
for VIEWS in "1 1" "2 3"; do
    set -- $VIEWS
    python -m projects.st_abn.test --preset sthv2_slowonly_32 --data-root "$DATA_ROOT" --val-list "$VAL_LIST" \
        --checkpoint "$CHECKPOINT" --num-clips $1 --num-crops $2 \
        --output-dir "$RUNS/sthv2_slowonly_32/test_${1}x${2}"
done
