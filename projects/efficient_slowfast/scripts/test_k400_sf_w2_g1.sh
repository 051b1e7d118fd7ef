#!/usr/bin/env bash
# slowfast_shufflenet W2.0 G1 on Kinetics-400 (preset k400_sf_w2_g1).
# Expected (k400_sf_w2_g1, 10x3 clips x crops, reference README, CMDA column (baseline 50.19)): top1 54.99
# odd row: the run script behind it (run_shufflenet.sh) trains the yaml's W1 G1, not W2 G1.
# 10 clips x 3 crops per video, scores summed (softmax; ReLU'd logits for GhostNet, Q1). A reference
# checkpoint_epoch_*.pyth works as CKPT (converted on load). Any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
CKPT=${CKPT:-runs/efficient_slowfast/k400_sf_w2_g1/checkpoints/best.pth}
OUT=${OUT:-runs/efficient_slowfast/k400_sf_w2_g1_test}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.test --preset k400_sf_w2_g1 \
    --data-root "$DATA_ROOT" --val-list "$VAL_LIST" --checkpoint "$CKPT" --output-dir "$OUT" "$@"
