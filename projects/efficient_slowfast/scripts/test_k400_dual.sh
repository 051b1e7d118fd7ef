#!/usr/bin/env bash
# slowfast_dual_r50 on Kinetics-400 (preset k400_dual).
# the README reports no dual accuracy; run_dual.sh trained 4 GPUs x 1 with multigrid, MAX_EPOCH 100 (Q4).
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_dual/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_dual_test} \
PRESET=k400_dual exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
