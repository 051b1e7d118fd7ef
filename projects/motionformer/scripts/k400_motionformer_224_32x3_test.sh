#!/usr/bin/env bash
# Motionformer-L on Kinetics-400 (224 px, 32x3), reference config K400/motionformer_224_32x3.yaml.
# Expected (k400_motionformer_224_32x3, 10x3 clips x crops, reference model zoo (README)): top1 80.2, top5 94.8
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/k400_motionformer_224_32x3.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/kinetics400}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/k400_motionformer_224_32x3.pyth}} OUT=${OUT:-runs/k400_motionformer_224_32x3_test} \
PRESET=k400_motionformer_224_32x3 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
