#!/usr/bin/env bash
# The paper's EN row: 8F + 16F ensemble on SSV2, 2x3 (run test_ssv2_8f_2x3.sh and test_ssv2_16f_2x3.sh first).
# Expected (ssv2_8f + ssv2_16f, 2x3 clips x crops, reference average_scores.py, logits of the two runs summed): top1 66.69, top5 90.66
set -euo pipefail
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
python -m common.tools.average_scores "$RUNS/test_ssv2_8f_2x3/scores.npz" "$RUNS/test_ssv2_16f_2x3/scores.npz" \
    --out-dir "$RUNS/test_ssv2_en_2x3" "$@"
