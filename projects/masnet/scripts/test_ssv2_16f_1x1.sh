#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_16f) with the protocol 1x1 (clips x crops).
# Expected (ssv2_16f, 1x1 clips x crops, paper / reference README): top1 62.99, top5 88.47
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv2/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv2_16f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv2_16f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 1 --output-dir "$RUNS/test_ssv2_16f_1x1" "$@"
