#!/usr/bin/env bash
# The paper's EN row: 8F + 16F ensemble on SSV2, 2x3 (run test_ssv2_8f_2x3.sh and test_ssv2_16f_2x3.sh first).
# Expected (reference average_scores.py): 66.69 top-1 / 90.66 top-5. Logits summed with equal weight, as the reference.
set -euo pipefail
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
python -m common.tools.average_scores "$RUNS/test_ssv2_8f_2x3/scores.npz" "$RUNS/test_ssv2_16f_2x3/scores.npz" \
    --out-dir "$RUNS/test_ssv2_en_2x3" "$@"
