#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v1, 16 frames.
# Expected (ssv1_16f, 1x1 clips x crops, paper / reference README): top1 51.91, top5 80.23
# Expected (ssv1_16f, 2x3 clips x crops, paper / reference README): top1 53.39, top5 81.77
# No reference command; preset inferred (see configs.py).
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv1/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth}  # torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded
NPROC=${NPROC:-4}  # GPUs; --batch-size is global, so the recipe does not change with NPROC
torchrun --nproc_per_node "$NPROC" -m projects.masnet.main --preset ssv1_16f --data-root "$DATA_ROOT" \
    --pretrained "$PRETRAINED" --output-dir "$RUNS/ssv1_16f" --resume auto "$@"
