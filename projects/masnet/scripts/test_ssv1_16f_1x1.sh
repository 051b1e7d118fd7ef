#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_16f) with the protocol 1x1 (clips x crops).
# Expected (ssv1_16f, 1x1 clips x crops, paper / reference README): top1 51.91, top5 80.23
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv1_16f_1x1} \
PRESET=ssv1_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 1 "$@"
