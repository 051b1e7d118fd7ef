#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_16f) with the protocol 1x1 (clips x crops).
# Expected (ssv2_16f, 1x1 clips x crops, paper / reference README): top1 62.99, top5 88.47
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv2_16f_1x1} \
PRESET=ssv2_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 1 "$@"
