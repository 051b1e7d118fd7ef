#!/usr/bin/env bash
# slowfast_shufflenetv2 W1.0 on Kinetics-400 (preset k400_sfv2_w1).
# Expected (k400_sfv2_w1, 10x3 clips x crops, reference README, CMDA column (baseline 47.26)): top1 38.54
# odd row: 38.54 is also the README's MobileNetV2 baseline (a likely copy-paste), and it is 8.7 below its own baseline
# (47.26).
# Reference batch 256 clips in total (run_shufflenetv2.sh, 4 GPUs x 64); --batch-size is global. --auto-scale-lr
# scales the preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
GPUS=${GPUS:-8} PER_GPU=${PER_GPU:-32} ACCUM=${ACCUM:-1} \
PRESET=k400_sfv2_w1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast train \
    --train-list "${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}" --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
