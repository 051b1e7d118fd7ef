#!/usr/bin/env bash
# slowfast_shufflenetv2 W2.0 on Kinetics-400 (preset k400_sfv2_w2).
# Expected (k400_sfv2_w2, 10x3 clips x crops, reference README, CMDA column (baseline 54.22)): top1 48.00
# odd row: 6.2 below its baseline (54.22), against the paper's claim of consistent gains.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_sfv2_w2/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_sfv2_w2_test} \
PRESET=k400_sfv2_w2 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
