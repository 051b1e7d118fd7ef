#!/usr/bin/env bash
# Motionformer-HR on Kinetics-400 (336 px, 16x8), reference config K400/motionformer_336_16x8.yaml.
# Expected (k400_motionformer_336_16x8, 10x3 clips x crops, reference model zoo (README)): top1 81.1, top5 95.2
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/k400_motionformer_336_16x8.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
set -euo pipefail
GPUS=${GPUS:-8}
DATA=${DATA:-data/kinetics400}
CKPT=${CKPT:-checkpoints/k400_motionformer_336_16x8.pyth}
OUT=${OUT:-runs/k400_motionformer_336_16x8_test}
torchrun --nproc_per_node "$GPUS" -m projects.motionformer.test --preset k400_motionformer_336_16x8 --data-root "$DATA" \
    --checkpoint "$CKPT" --output-dir "$OUT" "$@"
