#!/usr/bin/env bash
# The paper's EN row: 8F + 16F ensemble on SSV2, 1x1 (run test_ssv2_8f_1x1.sh and test_ssv2_16f_1x1.sh first).
# Expected (reference average_scores.py): 65.11 top-1 / 89.54 top-5. Logits summed with equal weight, as the reference.
set -euo pipefail
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
python -m common.tools.average_scores "$RUNS/test_ssv2_8f_1x1/scores.npz" "$RUNS/test_ssv2_16f_1x1/scores.npz" \
    --out-dir "$RUNS/test_ssv2_en_1x1" "$@"
