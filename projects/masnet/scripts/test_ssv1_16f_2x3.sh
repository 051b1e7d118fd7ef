#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_16f) with the protocol 2x3 (clips x crops).
# Expected (ssv1_16f, 2x3 clips x crops, paper / reference README): top1 53.39, top5 81.77
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv1/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
CHECKPOINT=${CHECKPOINT:-$RUNS/ssv1_16f/checkpoints/last.pth}  # or a released reference .pth.tar
python -m projects.masnet.test --preset ssv1_16f --data-root "$DATA_ROOT" --checkpoint "$CHECKPOINT" \
    --test_crops 3 --twice_sample --full_res --output-dir "$RUNS/test_ssv1_16f_2x3" "$@"
