#!/usr/bin/env bash
# The paper's EN row: 8F + 16F ensemble on SSV2, 1x1 (run test_ssv2_8f_1x1.sh and test_ssv2_16f_1x1.sh first).
# Expected (ssv2_8f + ssv2_16f, 1x1 clips x crops, reference average_scores.py, logits of the two runs summed): top1 65.11, top5 89.54
set -euo pipefail
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
python -m common.tools.average_scores "$RUNS/test_ssv2_8f_1x1/scores.npz" "$RUNS/test_ssv2_16f_1x1/scores.npz" \
    --out-dir "$RUNS/test_ssv2_en_1x1" "$@"
