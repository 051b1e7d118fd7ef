#!/usr/bin/env bash
# slowfast_shufflenetv2 W1.0 on Kinetics-400 (preset k400_sfv2_w1).
# Expected (k400_sfv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 47.26)): top1 38.54
# odd row: 38.54 is also the README's MobileNetV2 baseline (a likely copy-paste), and it is 8.7 below its own baseline
# (47.26).
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_sfv2_w1/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_sfv2_w1_test} \
PRESET=k400_sfv2_w1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
