#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_8f) with the protocol 2x3 (clips x crops).
# Expected (ssv2_8f, 2x3 clips x crops, paper / reference README): top1 63.88, top5 88.74
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv2/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv2_8f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv2_8f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 3 --twice_sample --full_res --output-dir "$RUNS/test_ssv2_8f_2x3" "$@"
