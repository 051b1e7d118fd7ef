#!/usr/bin/env bash
# Test MAS-Net R50 (ssv1_16f) with the protocol 2x3 (clips x crops).
# Expected (ssv1_16f, 2x3 clips x crops, paper / reference README): top1 53.39, top5 81.77
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_ssv1_16f_2x3} \
PRESET=ssv1_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 3 --twice_sample --full_res "$@"
