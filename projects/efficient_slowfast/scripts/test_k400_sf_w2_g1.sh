#!/usr/bin/env bash
# slowfast_shufflenet W2.0 G1 on Kinetics-400 (preset k400_sf_w2_g1).
# Expected (k400_sf_w2_g1, 10x3 clips x crops, reference README, CMDA column (baseline 50.19)): top1 54.99
# odd row: the run script behind it (run_shufflenet.sh) trains the yaml's W1 G1, not W2 G1.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
GPUS=${GPUS:-8} CHECKPOINT=${CHECKPOINT:-${CKPT:-runs/efficient_slowfast/k400_sf_w2_g1/checkpoints/best.pth}} OUT=${OUT:-runs/efficient_slowfast/k400_sf_w2_g1_test} \
PRESET=k400_sf_w2_g1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test \
    --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
