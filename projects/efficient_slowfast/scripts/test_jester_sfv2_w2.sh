#!/usr/bin/env bash
# slowfast_shufflenetv2 W2.0 on Jester-V1 (preset jester_sfv2_w2).
# Expected (jester_sfv2_w2, 10x3 clips x crops, reference README: Efficient-3DCNNs baseline only, no CMDA number): top1 93.71
# odd row: the README gives only the Efficient-3DCNNs baseline for Jester, no CMDA accuracy.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
# Jester frame folders work without re-encoding: add --reader frames --source-fps 12; 1-based lists: --label-base 1.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/jester_sfv2_w2/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/jester_sfv2_w2_test} \
PRESET=jester_sfv2_w2 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-vallist.txt}" "$@"
