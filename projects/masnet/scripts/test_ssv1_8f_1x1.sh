#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_8f) with the protocol 1x1 (clips x crops).
# Expected (ssv1_8f, 1x1 clips x crops, paper / reference README): top1 49.21, top5 77.89
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv1/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv1_8f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv1_8f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 1 --output-dir "$RUNS/test_ssv1_8f_1x1" "$@"
