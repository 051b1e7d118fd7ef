#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_8f) with the protocol 2x3 (clips x crops).
# Expected (ssv1_8f, 2x3 clips x crops, paper / reference README): top1 51.05, top5 79.47
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv1/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv1_8f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv1_8f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 3 --twice_sample --full_res --output-dir "$RUNS/test_ssv1_8f_2x3" "$@"
