#!/usr/bin/env bash
# Motionformer on Kinetics-400 (224 px, 16x4), reference config K400/motionformer_224_16x4.yaml.
# Expected (k400_motionformer_224_16x4, 10x3 clips x crops, reference model zoo (README)): top1 79.7, top5 94.2
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/k400_motionformer_224_16x4.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/kinetics400}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/k400_motionformer_224_16x4.pyth}} OUT=${OUT:-runs/k400_motionformer_224_16x4_test} \
PRESET=k400_motionformer_224_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
