#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v2, 16 frames.
# Expected (ssv2_16f, 1x1 clips x crops, paper / reference README): top1 62.99, top5 88.47
# Expected (ssv2_16f, 2x3 clips x crops, paper / reference README): top1 65.09, top5 89.84
# Reference scripts/train.sh v2_16 (batch 16, lr 0.005, dropout 0.8).
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv2/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth}  # torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded
NPROC=${NPROC:-4}  # GPUs; --batch-size is global, so the recipe does not change with NPROC
torchrun --nproc_per_node "$NPROC" -m projects.masnet.main --preset ssv2_16f --data-root "$DATA_ROOT" \
    --pretrained "$PRETRAINED" --output-dir "$RUNS/ssv2_16f" --resume auto "$@"
