#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v1, 16 frames.
# Expected (ssv1_16f, 1x1 clips x crops, paper / reference README): top1 51.91, top5 80.23
# Expected (ssv1_16f, 2x3 clips x crops, paper / reference README): top1 53.39, top5 81.77
# No reference command; preset inferred (see configs.py).
# PRETRAINED: torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded. NPROC: GPUs; --batch-size is
# global, so the recipe does not change with NPROC.
NPROC=${NPROC:-4} PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth} \
PRESET=ssv1_16f exec bash "$(dirname "$0")/../../run_preset.sh" masnet train "$@"
