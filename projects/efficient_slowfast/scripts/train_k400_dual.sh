#!/usr/bin/env bash
# slowfast_dual_r50 on Kinetics-400 (preset k400_dual).
# the README reports no dual accuracy; run_dual.sh trained 4 GPUs x 1 with multigrid, MAX_EPOCH 100 (Q4).
# Reference batch 64 clips in total (the yaml, 1 GPU x 64); --batch-size is global. --auto-scale-lr scales the
# preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Kinetics-400 folder (videos and lists)}
PER_GPU=${PER_GPU:-8}
ACCUM=${ACCUM:-1}
TRAIN_LIST=${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}
VAL_LIST=${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}
OUT=${OUT:-runs/efficient_slowfast/k400_dual}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.main --preset k400_dual \
    --data-root "$DATA_ROOT" --train-list "$TRAIN_LIST" --val-list "$VAL_LIST" \
    --batch-size $((GPUS * PER_GPU)) --accum-steps "$ACCUM" --auto-scale-lr --output-dir "$OUT" --resume auto "$@"
