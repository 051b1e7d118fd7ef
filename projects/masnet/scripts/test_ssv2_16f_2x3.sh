#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_16f) with the protocol 2x3 (clips x crops).
# Expected (ssv2_16f, 2x3 clips x crops, paper / reference README): top1 65.09, top5 89.84
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv2_16f_2x3} \
PRESET=ssv2_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 3 --twice_sample --full_res "$@"
