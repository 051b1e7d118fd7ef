#!/usr/bin/env bash
# Train MAS-Net R50 on Something-Something v2, 8 frames.
# Expected (ssv2_8f, 1x1 clips x crops, paper / reference README): top1 61.41, top5 87.03
# Expected (ssv2_8f, 2x3 clips x crops, paper / reference README): top1 63.88, top5 88.74
# No reference command; preset inferred (see configs.py).
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds somethingv2/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth}  # torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded
NPROC=${NPROC:-4}  # GPUs; --batch-size is global, so the recipe does not change with NPROC
torchrun --nproc_per_node "$NPROC" -m projects.masnet.main --preset ssv2_8f --data-root "$DATA_ROOT" \
    --pretrained "$PRETRAINED" --output-dir "$RUNS/ssv2_8f" --resume auto "$@"
