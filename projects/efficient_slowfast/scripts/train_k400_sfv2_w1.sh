#!/usr/bin/env bash
# slowfast_shufflenetv2 W1.0 on Kinetics-400 (preset k400_sfv2_w1).
# Expected (k400_sfv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 47.26)): top1 38.54
# odd row: 38.54 is also the README's MobileNetV2 baseline (a likely copy-paste), and it is 8.7 below its own baseline
# (47.26).
# Reference batch 256 clips in total (run_shufflenetv2.sh, 4 GPUs x 64); --batch-size is global. --auto-scale-lr
# scales the preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
PER_GPU=${PER_GPU:-32}
ACCUM=${ACCUM:-1}
TRAIN_LIST=${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
OUT=${OUT:-runs/efficient_slowfast/k400_sfv2_w1}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.main --preset k400_sfv2_w1 \
    --data-root "$DATA_ROOT" --train-list "$TRAIN_LIST" --val-list "$VAL_LIST" \
    --batch-size $((GPUS * PER_GPU)) --accum-steps "$ACCUM" --auto-scale-lr --output-dir "$OUT" --resume auto "$@"
