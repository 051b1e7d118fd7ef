#!/usr/bin/env bash
# Train the reference's R3D-34 baseline on HMDB51 split 1 (UCF101 recipe).
# Expected (hmdb51_r3d34_baseline, 3x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# Preset hmdb51_r3d34_baseline: 8 frames x rate 8, 112 crops, SGD Nesterov lr 0.1 for a global batch of 32 (10 warm-up epochs
# from 1e-4, x0.1 at epochs 30 and 40, 50 epochs), precise BN and validation every 5 epochs, from scratch.
# The reference ran 4 GPUs x 8 clips; other GPU counts keep --auto-scale-lr (linear in the global batch).
# Lists:
#   python -m common.tools.build_lists hmdb51 --split testTrainMulti_7030_splits --split-id 1 --subset train \
#       --out $DATA/train.csv   (and --subset test -> $DATA/test.csv)
# with the videos under $DATA/<class>/*.avi (labels 0-based).
GPUS=${GPUS:-4} PER_GPU=${PER_GPU:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/hmdb51}} \
PRESET=hmdb51_r3d34_baseline exec bash "$(dirname "$0")/../../run_preset.sh" mgma train "$@"
