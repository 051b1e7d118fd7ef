#!/usr/bin/env bash
# Test MAS-Net R50 (k400_16f) with the protocol 3x10 (clips x crops).
# Expected (k400_16f, 10x3 clips x crops, paper / reference README): top1 75.70, top5 92.60
# CHECKPOINT: default RUNS/<preset>/checkpoints/last.pth, or a released reference .pth.tar.
OUT=${OUT:-${RUNS:-runs/masnet}/test_k400_16f_3x10} \
PRESET=k400_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test \
    --test_crops 3 --full_res --dense_sample --dense_sample_num 10 "$@"
