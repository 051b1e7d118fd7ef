#!/usr/bin/env bash
# Train MAS-Net R50 on Kinetics-400, 16 frames.
# Expected (k400_16f, 10x3 clips x crops, paper / reference README): top1 75.70, top5 92.60
# The reference ships only an 8F command; preset inferred.
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the folder that holds K400/}
RUNS=${RUNS:-runs/masnet}
cd "$(dirname "$0")/../../.."
PRETRAINED=${PRETRAINED:-resnet50-0676ba61.pth}  # torchvision ImageNet ResNet-50 (IMAGENET1K_V1), never downloaded
NPROC=${NPROC:-4}  # GPUs; --batch-size is global, so the recipe does not change with NPROC
torchrun --nproc_per_node "$NPROC" -m projects.masnet.main --preset k400_16f --data-root "$DATA_ROOT" \
    --pretrained "$PRETRAINED" --output-dir "$RUNS/k400_16f" --resume auto "$@"
