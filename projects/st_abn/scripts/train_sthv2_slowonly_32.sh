#!/usr/bin/env bash
# Train the slow-only R50 baseline on Something-Something v2, 32 TSN segments, one frame each.
# Expected (sthv2_slowonly_32, 1x1 clips x crops, paper table not retrieved): top1 not published
# No reference config: the ST-ABN values, without the attention branch.
# (the paper's table, arXiv:2110.15574, could not be retrieved here; the reference repo publishes none)
# 8 GPUs x 8 clips, SGD Nesterov lr 0.01, 150 epochs, steps at 75 and 125, gradient clipping 20.
# DATA_ROOT: the frame folders, files named {:06d}.jpg; TRAIN_LIST/VAL_LIST: TSM lists (folder num_frames label).
# PRETRAINED: torchvision ImageNet ResNet-50, the reference's; never downloaded. NPROC: GPUs; --batch-size is
# global, so the recipe does not change with NPROC.
NPROC=${NPROC:-8} PRETRAINED=${PRETRAINED:-resnet50-19c8e357.pth} \
PRESET=sthv2_slowonly_32 exec bash "$(dirname "$0")/../../run_preset.sh" st_abn train \
    --train-list "${TRAIN_LIST:-$DATA_ROOT/train_videofolder.txt}" --val-list "${VAL_LIST:-$DATA_ROOT/val_videofolder.txt}" "$@"
