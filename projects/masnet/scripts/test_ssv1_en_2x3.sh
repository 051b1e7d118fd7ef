#!/usr/bin/env bash
# The paper's EN row: 8F + 16F ensemble on SSV1, 2x3 (run test_ssv1_8f_2x3.sh and test_ssv1_16f_2x3.sh first).
# Expected (ssv1_8f + ssv1_16f, 2x3 clips x crops, reference average_scores.py, logits of the two runs summed): top1 55.43, top5 83.26
set -euo pipefail
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
python -m common.tools.average_scores "$RUNS/test_ssv1_8f_2x3/scores.npz" "$RUNS/test_ssv1_16f_2x3/scores.npz" \
    --out-dir "$RUNS/test_ssv1_en_2x3" "$@"
