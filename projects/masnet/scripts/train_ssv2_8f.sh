#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v2, 8 frames.
# Expected (ssv2_8f, 1x1 clips x crops, paper / reference README): top1 61.41, top5 87.03
# Expected (ssv2_8f, 2x3 clips x crops, paper / reference README): top1 63.88, top5 88.74
# No reference command; preset inferred (see configs.py).
# PRETRAINED: torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded. NPROC: GPUs; --batch-size is
# global, so the recipe does not change with NPROC.
NPROC=${NPROC:-4} PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth} \
PRESET=ssv2_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet train "$@"
