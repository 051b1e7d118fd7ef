#!/usr/bin/env bash
# slowfast_shufflenet W2.0 G3 on Jester-V1 (preset jester_sf_w2_g3).
# Expected (jester_sf_w2_g3, 10x3 clips x crops, reference README: Efficient-3DCNNs baseline only, no CMDA number): top1 93.54
# odd row: the README gives only the Efficient-3DCNNs baseline for Jester, no CMDA accuracy.
# Reference batch 64 clips in total (1 GPU x 64); --batch-size is global. --auto-scale-lr scales the preset's lr from
# its reference batch to GPUS x PER_GPU x ACCUM.
# Jester frame folders work without re-encoding: add --reader frames --source-fps 12; 1-based lists: --label-base 1.
GPUS=${GPUS:-8} PER_GPU=${PER_GPU:-8} ACCUM=${ACCUM:-1} \
PRESET=jester_sf_w2_g3 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast train \
    --train-list "${TRAIN_LIST:-trainlist.txt}" --val-list "${VAL_LIST:-vallist.txt}" "$@"
