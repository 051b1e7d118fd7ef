#!/usr/bin/env bash
# Train MGMA-R(2+1)D-34, TSA, 8 groups, UCF101 split 1.
# Expected (ucf101_r2plus1d34_tsa_g8, 3x1 clips x crops, repository publishes no numbers; paper tables not retrieved): top1 not published
# Preset ucf101_r2plus1d34_tsa_g8: 8 frames x rate 8, 112 crops, SGD Nesterov lr 0.1 for a global batch of 32 (10 warm-up epochs
# from 1e-4, x0.1 at epochs 30 and 40, 50 epochs), precise BN and validation every 5 epochs, from scratch.
# The reference ran 4 GPUs x 8 clips; other GPU counts keep --auto-scale-lr (linear in the global batch).
# Lists:
#   python -m common.tools.build_lists ucf101 --labels ucfTrainTestlist/classInd.txt \
#       --split ucfTrainTestlist/trainlist01.txt --out $DATA/train.csv   (and testlist01.txt -> $DATA/test.csv)
# with the videos under $DATA/<class>/v_*.avi (labels 0-based).
GPUS=${GPUS:-4} PER_GPU=${PER_GPU:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/ucf101}} \
PRESET=ucf101_r2plus1d34_tsa_g8 exec bash "$(dirname "$0")/../../run_preset.sh" mgma train "$@"
