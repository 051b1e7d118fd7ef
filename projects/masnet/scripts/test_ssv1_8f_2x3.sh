#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_8f) with the protocol 2x3 (clips x crops).
# Expected (ssv1_8f, 2x3 clips x crops, paper / reference README): top1 51.05, top5 79.47
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv1_8f_2x3} \
PRESET=ssv1_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 3 --twice_sample --full_res "$@"
