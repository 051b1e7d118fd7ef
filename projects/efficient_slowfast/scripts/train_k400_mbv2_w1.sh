#!/usr/bin/env bash
# slowfast_mobilenetv2 W1.0 on Kinetics-400 (preset k400_mbv2_w1).
# Expected (k400_mbv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 38.54)): top1 48.12
# odd row: its baseline (38.54) duplicates the SFV2 W1 cell; the claimed +9.6 rests on it.
# Reference batch 128 clips in total (run_mobilenetv2_w1.sh, 2 GPUs x 64); --batch-size is global. --auto-scale-lr
# scales the preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
PER_GPU=${PER_GPU:-16}
ACCUM=${ACCUM:-1}
TRAIN_LIST=${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
OUT=${OUT:-runs/efficient_slowfast/k400_mbv2_w1}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.main --preset k400_mbv2_w1 \
    --data-root "$DATA_ROOT" --train-list "$TRAIN_LIST" --val-list "$VAL_LIST" \
    --batch-size $((GPUS * PER_GPU)) --accum-steps "$ACCUM" --auto-scale-lr --output-dir "$OUT" --resume auto "$@"
