#!/usr/bin/env bash
# Motionformer-L on EPIC-KITCHENS-100 (224 px, 32x3), reference config EK/motionformer_224_32x3.yaml.
# Expected (reference model zoo, 10 clips x 3 crops): action top-1 44.1, noun top-1 57.6 (validation split).
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ek_motionformer_224_32x3.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA=${DATA:-data/epic100}
CKPT=${CKPT:-checkpoints/ek_motionformer_224_32x3.pyth}
OUT=${OUT:-runs/ek_motionformer_224_32x3_test}
torchrun --nproc_per_node "$GPUS" -m projects.motionformer.test --preset ek_motionformer_224_32x3 --data-root "$DATA" \
    --checkpoint "$CKPT" --output-dir "$OUT" "$@"
