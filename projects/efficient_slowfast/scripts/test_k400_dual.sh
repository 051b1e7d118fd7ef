#!/usr/bin/env bash
# slowfast_dual_r50 on Kinetics-400 (preset k400_dual).
# the README reports no dual accuracy; run_dual.sh trained 4 GPUs x 1 with multigrid, MAX_EPOCH 100 (Q4).
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_dual/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_dual_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_dual \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
