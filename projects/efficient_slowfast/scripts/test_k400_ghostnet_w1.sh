#!/usr/bin/env bash
# slowfast_ghostnet W1.0 on Kinetics-400 (preset k400_ghostnet_w1).
# Expected (k400_ghostnet_w1, 10x3 clips x crops, reference README, CMDA column (no baseline)): top1 46.03
# the reference trained with multigrid (cut short by its STEPS bug, Q4) and tested epoch 141.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_ghostnet_w1/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_ghostnet_w1_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_ghostnet_w1 \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
