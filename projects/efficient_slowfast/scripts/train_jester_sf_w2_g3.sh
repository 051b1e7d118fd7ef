#!/usr/bin/env bash
# slowfast_shufflenet W2.0 G3 on Jester-V1 (preset jester_sf_w2_g3).
# Expected (jester_sf_w2_g3, 10x3 clips x crops, reference README: Efficient-3DCNNs baseline only, no CMDA number): top1 93.54
# odd row: the README gives only the Efficient-3DCNNs baseline for Jester, no CMDA accuracy.
# Reference batch 64 clips in total (1 GPU x 64); --batch-size is global. --auto-scale-lr scales the preset's lr from
# its reference batch to GPUS x PER_GPU x ACCUM.
# Jester frame folders work without re-encoding: add --reader frames --source-fps 12; 1-based lists: --label-base 1.
set -euo pipefail
GPUS=${GPUS:-8}
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the Jester folder (lists, videos <id>/<id>.mp4)}
PER_GPU=${PER_GPU:-8}
ACCUM=${ACCUM:-1}
TRAIN_LIST=${TRAIN_LIST:-trainlist.txt}
VAL_LIST=${VAL_LIST:-vallist.txt}
OUT=${OUT:-runs/efficient_slowfast/jester_sf_w2_g3}
torchrun --nproc_per_node "$GPUS" -m projects.efficient_slowfast.main --preset jester_sf_w2_g3 \
    --data-root "$DATA_ROOT" --train-list "$TRAIN_LIST" --val-list "$VAL_LIST" \
    --batch-size $((GPUS * PER_GPU)) --accum-steps "$ACCUM" --auto-scale-lr --output-dir "$OUT" --resume auto "$@"
