#!/usr/bin/env bash
# slowfast_mobilenetv2 W1.0 on Kinetics-400 (preset k400_mbv2_w1).
# Expected (k400_mbv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 38.54)): top1 48.12
# odd row: its baseline (38.54) duplicates the SFV2 W1 cell; the claimed +9.6 rests on it.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_mbv2_w1/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_mbv2_w1_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_mbv2_w1 \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
