#!/usr/bin/env bash
# Train MGMA-R3D-34, TSA, 8 groups on Something-Something v1 (UCF101 recipe on frames: no released config).
# Expected (ssv1_r3d34_tsa_g8, 1x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# Preset ssv1_r3d34_tsa_g8: 8 frames x rate 8, 112 crops, SGD Nesterov lr 0.1 for a global batch of 32 (10 warm-up epochs
# from 1e-4, x0.1 at epochs 30 and 40, 50 epochs), precise BN and validation every 5 epochs, from scratch.
# The reference ran 4 GPUs x 8 clips; other GPU counts keep --auto-scale-lr (linear in the global batch).
# Lists:
# with the released something-something-v1-labels.csv, -train.csv, -validation.csv and the frame folders in $DATA.
GPUS=${GPUS:-4} PER_GPU=${PER_GPU:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/ssv1}} \
PRESET=ssv1_r3d34_tsa_g8 exec bash "$(dirname "$0")/../../run_preset.sh" mgma train "$@"
