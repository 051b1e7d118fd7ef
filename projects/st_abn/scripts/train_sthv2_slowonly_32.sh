#!/usr/bin/env bash
# Train the slow-only R50 baseline on Something-Something v2, 32 TSN segments, one frame each.
# Expected (sthv2_slowonly_32, 1x1 clips x crops, paper table not retrieved): top1 not published
# No reference config: the ST-ABN values, without the attention branch.
# (the paper's table, arXiv:2110.15574, could not be retrieved here; the reference repo publishes none)
# 8 GPUs x 8 clips, SGD Nesterov lr 0.01, 150 epochs, steps at 75 and 125, gradient clipping 20.
set -euo pipefail
DATA_ROOT=${DATA_ROOT:?set DATA_ROOT to the frame folders, files named {:06d}.jpg}
TRAIN_LIST=${TRAIN_LIST:-$DATA_ROOT/train_videofolder.txt}  # TSM lists: folder num_frames label
VAL_LIST=${VAL_LIST:-$DATA_ROOT/val_videofolder.txt}
RUNS=${RUNS:-runs/st_abn}
cd "$(dirname "$0")/../../.."
PRETRAINED=${PRETRAINED:-resnet50-19c8e357.pth}  # torchvision ImageNet ResNet-50, the reference's; never downloaded
NPROC=${NPROC:-8}  # GPUs; --batch-size is global, so the recipe does not change with NPROC
torchrun --nproc_per_node "$NPROC" -m projects.st_abn.main --preset sthv2_slowonly_32 --data-root "$DATA_ROOT" \
    --train-list "$TRAIN_LIST" --val-list "$VAL_LIST" --pretrained "$PRETRAINED" \
    --output-dir "$RUNS/sthv2_slowonly_32" --resume auto "$@"
