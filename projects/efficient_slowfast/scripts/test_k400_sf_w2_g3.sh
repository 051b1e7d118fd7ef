#!/usr/bin/env bash
# slowfast_shufflenet W2.0 G3 on Kinetics-400 (preset k400_sf_w2_g3).
# Expected (k400_sf_w2_g3, 10x3 clips x crops, reference README, CMDA column (baseline 51.06)): top1 53.84
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_sf_w2_g3/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_sf_w2_g3_test} \
PRESET=k400_sf_w2_g3 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
