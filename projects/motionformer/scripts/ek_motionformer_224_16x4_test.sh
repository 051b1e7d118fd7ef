#!/usr/bin/env bash
# Motionformer on EPIC-KITCHENS-100 (224 px, 16x4), reference config EK/motionformer_224_16x4.yaml.
# Expected (ek_motionformer_224_16x4, 10x3 clips x crops, reference model zoo (README), EPIC-100 validation split): action_top1 43.1, noun_top1 56.5
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ek_motionformer_224_16x4.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA=${DATA:-data/epic100}
CKPT=${CKPT:-checkpoints/ek_motionformer_224_16x4.pyth}
OUT=${OUT:-runs/ek_motionformer_224_16x4_test}
torchrun --nproc_per_node "$GPUS" -m projects.motionformer.test --preset ek_motionformer_224_16x4 --data-root "$DATA" \
    --checkpoint "$CKPT" --output-dir "$OUT" "$@"
