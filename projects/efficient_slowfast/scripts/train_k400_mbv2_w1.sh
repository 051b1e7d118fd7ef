#!/usr/bin/env bash
# slowfast_mobilenetv2 W1.0 on Kinetics-400 (preset k400_mbv2_w1).
# Expected (k400_mbv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 38.54)): top1 48.12
# odd row: its baseline (38.54) duplicates the SFV2 W1 cell; the claimed +9.6 rests on it.
# Reference batch 128 clips in total (run_mobilenetv2_w1.sh, 2 GPUs x 64); --batch-size is global. --auto-scale-lr
# scales the preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
GPUS=${GPUS:-8} PER_GPU=${PER_GPU:-16} ACCUM=${ACCUM:-1} \
PRESET=k400_mbv2_w1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast train \
    --train-list "${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}" --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
