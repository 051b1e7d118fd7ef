#!/usr/bin/env bash
# slowfast_mobilenetv2 W1.0 on Jester-V1 (preset jester_mbv2_w1).
# Expected (jester_mbv2_w1, 10x3 clips x crops, reference README: Efficient-3DCNNs baseline only, no CMDA number): top1 94.59
# odd row: the README gives only the Efficient-3DCNNs baseline for Jester, no CMDA accuracy.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
# Jester frame folders work without re-encoding: add --reader frames --source-fps 12; 1-based lists: --label-base 1.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/jester_mbv2_w1/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/jester_mbv2_w1_test} \
PRESET=jester_mbv2_w1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-vallist.txt}" "$@"
