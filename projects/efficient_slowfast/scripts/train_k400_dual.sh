#!/usr/bin/env bash
# slowfast_dual_r50 on Kinetics-400 (preset k400_dual).
# the README reports no dual accuracy; run_dual.sh trained 4 GPUs x 1 with multigrid, MAX_EPOCH 100 (Q4).
# Reference batch 64 clips in total (the yaml, 1 GPU x 64); --batch-size is global. --auto-scale-lr scales the
# preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
GPUS=${GPUS:-8} PER_GPU=${PER_GPU:-8} ACCUM=${ACCUM:-1} \
PRESET=k400_dual exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast train \
    --train-list "${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}" --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
