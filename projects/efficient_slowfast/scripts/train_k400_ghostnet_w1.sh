#!/usr/bin/env bash
# slowfast_ghostnet W1.0 on Kinetics-400 (preset k400_ghostnet_w1).
# Expected (k400_ghostnet_w1, 10x3 clips x crops, reference README, CMDA column (no baseline)): top1 46.03
# the reference trained with multigrid (cut short by its STEPS bug, Q4) and tested epoch 141.
# Reference batch 16 clips in total (run_ghostnet_w1.sh, 4 GPUs x 4); --batch-size is global. --auto-scale-lr scales
# the preset's lr from its reference batch to GPUS x PER_GPU x ACCUM.
GPUS=${GPUS:-8} PER_GPU=${PER_GPU:-2} ACCUM=${ACCUM:-1} \
PRESET=k400_ghostnet_w1 exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast train \
    --train-list "${TRAIN_LIST:-kinetics_p3d_train_byvideo_128.lst}" --val-list "${VAL_LIST:-kinetics_p3d_val_byvideo_128.lst}" "$@"
