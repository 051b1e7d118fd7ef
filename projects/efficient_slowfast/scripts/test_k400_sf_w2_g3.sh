#!/usr/bin/env bash
# slowfast_shufflenet W2.0 G3 on Kinetics-400 (preset k400_sf_w2_g3).
# Expected (k400_sf_w2_g3, 10x3 clips x crops, reference README, CMDA column (baseline 51.06)): top1 53.84
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_sf_w2_g3/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_sf_w2_g3_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_sf_w2_g3 \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
