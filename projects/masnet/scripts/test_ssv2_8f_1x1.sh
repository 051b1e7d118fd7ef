#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_8f) with the protocol 1x1 (clips x crops).
# Expected (ssv2_8f, 1x1 clips x crops, paper / reference README): top1 61.41, top5 87.03
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv2/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv2_8f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv2_8f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 1 --output-dir "$RUNS/test_ssv2_8f_1x1" "$@"
