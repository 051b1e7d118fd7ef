#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v2, 16 frames.
# Expected (ssv2_16f, 1x1 clips x crops, paper / reference README): top1 62.99, top5 88.47
# Expected (ssv2_16f, 2x3 clips x crops, paper / reference README): top1 65.09, top5 89.84
# Reference scripts/train.sh v2_16 (batch 16, lr 0.005, dropout 0.8).
# PRETRAINED: torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded. NPROC: GPUs; --batch-size is
# global, so the recipe does not change with NPROC.
NPROC=${NPROC:-4} PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth} \
PRESET=ssv2_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet train "$@"
