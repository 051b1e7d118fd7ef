#!/usr/bin/env bash
# Motionformer-L on Kinetics-600 (224 px, 32x3), reference config K600/motionformer_224_32x3.yaml.
# Expected (k600_motionformer_224_32x3, 10x3 clips x crops, reference model zoo (README)): top1 82.2, top5 96.0
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/k600_motionformer_224_32x3.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/kinetics600}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/k600_motionformer_224_32x3.pyth}} OUT=${OUT:-runs/k600_motionformer_224_32x3_test} \
PRESET=k600_motionformer_224_32x3 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
