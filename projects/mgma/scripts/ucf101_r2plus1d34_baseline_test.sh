#!/usr/bin/env bash
# Test the reference's R(2+1)D-34 baseline (SE in every unit), UCF101 split 1:
# Expected (ucf101_r2plus1d34_baseline, 3x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# 3 clip(s) x 1 crop at 128, softmax per head position averaged (fully convolutional), summed over a video's clips; the last
# checkpoint, as the reference tests it.
# CHECKPOINT: default OUT/checkpoints/last.pth, or a reference checkpoint_epoch_00050.pyth.
OUT=${OUT:-runs/mgma/ucf101_r2plus1d34_baseline}
NPROC=${NPROC:-1} CHECKPOINT=${CHECKPOINT:-$OUT/checkpoints/last.pth} OUT=$OUT/test_3x1 DATA_ROOT=${DATA_ROOT:-${DATA:-data/ucf101}} \
PRESET=ucf101_r2plus1d34_baseline exec bash "$(dirname "$0")/../../run_preset.sh" mgma test "$@"
