#!/usr/bin/env bash
# Train MAS-Net R50 on Kinetics-400, 16 frames.
# Expected (k400_16f, 10x3 clips x crops, paper / reference README): top1 75.70, top5 92.60
# The reference ships only an 8F command; preset inferred.
# PRETRAINED: torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded. NPROC: GPUs; --batch-size is
# global, so the recipe does not change with NPROC.
NPROC=${NPROC:-4} PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth} \
PRESET=k400_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet train "$@"
