#!/usr/bin/env bash
# slowfast_shufflenetv2 W2.0 on Kinetics-400 (preset k400_sfv2_w2).
# Expected (k400_sfv2_w2, 10x3 clips x crops, reference README, CMDA column (baseline 54.22)): top1 48.00
# odd row: 6.2 below its baseline (54.22), against the paper's claim of consistent gains.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_sfv2_w2/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_sfv2_w2_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_sfv2_w2 \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
