#!/usr/bin/env bash
# Test MGMA-R3D-34, TSA, 8 groups on Something-Something v1 (UCF101 recipe on frames: no released config):
# Expected (ssv1_r3d34_tsa_g8, 1x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# 1 clip(s) x 1 crop at 128, softmax per head position averaged (fully convolutional), summed over a video's clips; the last
# checkpoint, as the reference tests it.
# CHECKPOINT: default OUT/checkpoints/last.pth, or a reference checkpoint_epoch_00050.pyth.
OUT=${OUT:-runs/mgma/ssv1_r3d34_tsa_g8}
NPROC=${NPROC:-1} CHECKPOINT=${CHECKPOINT:-$OUT/checkpoints/last.pth} OUT=$OUT/test_1x1 DATA_ROOT=${DATA_ROOT:-${DATA:-data/ssv1}} \
PRESET=ssv1_r3d34_tsa_g8 exec bash "$(dirname "$0")/../../run_preset.sh" mgma test "$@"
