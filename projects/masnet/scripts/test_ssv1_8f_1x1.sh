#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_8f) with the protocol 1x1 (clips x crops).
# Expected (ssv1_8f, 1x1 clips x crops, paper / reference README): top1 49.21, top5 77.89
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv1_8f_1x1} \
PRESET=ssv1_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 1 "$@"
