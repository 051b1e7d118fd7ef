#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v1, 8 frames.
# Expected (ssv1_8f, 1x1 clips x crops, paper / reference README): top1 49.21, top5 77.89
# Expected (ssv1_8f, 2x3 clips x crops, paper / reference README): top1 51.05, top5 79.47
# Reference scripts/train.sh v1_8 (4 GPUs, batch 32, lr 0.01).
# PRETRAINED: torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded. NPROC: GPUs; --batch-size is
# global, so the recipe does not change with NPROC.
NPROC=${NPROC:-4} PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth} \
PRESET=ssv1_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet train "$@"
