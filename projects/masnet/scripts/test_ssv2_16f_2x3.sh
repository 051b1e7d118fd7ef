#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_16f) with the protocol 2x3 (clips x crops).
# Expected (ssv2_16f, 2x3 clips x crops, paper / reference README): top1 65.09, top5 89.84
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv2/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv2_16f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv2_16f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 3 --twice_sample --full_res --output-dir "$RUNS/test_ssv2_16f_2x3" "$@"
