#!/usr/bin/env bash
# slowfast_shufflenetv2 W0.25 on Kinetics-400 (preset k400_sfv2_w025).
# Expected (k400_sfv2_w025, 10x3 clips x crops, reference README, CMDA column (baseline 24.11)): top1 28.79
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_sfv2_w025/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_sfv2_w025_test} \
PRESET=k400_sfv2_w025 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
