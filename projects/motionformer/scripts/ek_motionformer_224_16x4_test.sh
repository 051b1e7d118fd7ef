#!/usr/bin/env bash
# Motionformer on EPIC-KITCHENS-100 (224 px, 16x4), reference config EK/motionformer_224_16x4.yaml.
# Expected (reference model zoo, 10 clips x 3 crops): action top-1 43.1, noun top-1 56.5 (validation split).
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ek_motionformer_224_16x4.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA=${DATA:-data/epic100}
CKPT=${CKPT:-checkpoints/ek_motionformer_224_16x4.pyth}
OUT=${OUT:-runs/ek_motionformer_224_16x4_test}
torchrun --nproc_per_node "$GPUS" -m projects.motionformer.test --preset ek_motionformer_224_16x4 --data-root "$DATA" \
    --checkpoint "$CKPT" --output-dir "$OUT" "$@"
