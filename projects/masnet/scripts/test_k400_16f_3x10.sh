#!/usr/bin/env bash
# Test MAS-Net R50 (k400_16f) with the protocol 3x10 (clips x crops).
# Expected (k400_16f, 10x3 clips x crops, paper / reference README): top1 75.70, top5 92.60
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds K400/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/k400_16f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset k400_16f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 3 --full_res --dense_sample --dense_sample_num 10 --output-dir "$RUNS/test_k400_16f_3x10" "$@"
