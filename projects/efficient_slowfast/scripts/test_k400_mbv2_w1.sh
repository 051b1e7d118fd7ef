#!/usr/bin/env bash
# slowfast_mobilenetv2 W1.0 on Kinetics-400 (preset k400_mbv2_w1).
# Expected (k400_mbv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 38.54)): top1 48.12
# odd row: its baseline (38.54) duplicates the SFV2 W1 cell; the claimed +9.6 rests on it.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_mbv2_w1/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_mbv2_w1_test} \
PRESET=k400_mbv2_w1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
