#!/usr/bin/env bash
# Test MGMA-R3D-34, TSA, 8 groups on HMDB51 split 1 (UCF101 recipe: the released code has no HMDB51 config):
# Expected (hmdb51_r3d34_tsa_g8, 3x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# 3 clip(s) x 1 crop at 128, softmax per head position averaged (fully convolutional), summed over a video's clips; the last
# checkpoint, as the reference tests it.
# CHECKPOINT: default OUT/checkpoints/last.pth, or a reference checkpoint_epoch_00050.pyth.
OUT=${OUT:-runs/mgma/hmdb51_r3d34_tsa_g8}
NPROC=${NPROC:-1} CHECKPOINT=${CHECKPOINT:-$OUT/checkpoints/last.pth} OUT=$OUT/test_3x1 DATA_ROOT=${DATA_ROOT:-${DATA:-data/hmdb51}} \
PRESET=hmdb51_r3d34_tsa_g8 exec bash "$(dirname "$0")/../../run_preset.sh" mgma test "$@"
