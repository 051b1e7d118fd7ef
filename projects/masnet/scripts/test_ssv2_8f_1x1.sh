#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_8f) with the protocol 1x1 (clips x crops).
# Expected (ssv2_8f, 1x1 clips x crops, paper / reference README): top1 61.41, top5 87.03
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv2_8f_1x1} \
PRESET=ssv2_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 1 "$@"
