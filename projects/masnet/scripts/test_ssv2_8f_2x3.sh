#!/usr/bin/env bash
# Test MAS-Net R50 (ssv2_8f) with the protocol 2x3 (clips x crops).
# Expected (ssv2_8f, 2x3 clips x crops, paper / reference README): top1 63.88, top5 88.74
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv2_8f_2x3} \
PRESET=ssv2_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 3 --twice_sample --full_res "$@"
