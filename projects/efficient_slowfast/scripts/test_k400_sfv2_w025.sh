#!/usr/bin/env bash
# slowfast_shufflenetv2 W0.25 on Kinetics-400 (preset k400_sfv2_w025).
# Expected (k400_sfv2_w025, 10x3 clips x crops, reference README, CMDA column (baseline 24.11)): top1 28.79
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_sfv2_w025/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_sfv2_w025_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_sfv2_w025 \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
