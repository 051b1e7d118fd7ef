#!/usr/bin/env bash
# Motionformer-L on EPIC-KITCHENS-100 (224 px, 32x3), reference config EK/motionformer_224_32x3.yaml.
# Expected (ek_motionformer_224_32x3, 10x3 clips x crops, reference model zoo (README), EPIC-100 validation split): action_top1 44.1, noun_top1 57.6
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ek_motionformer_224_32x3.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/epic100}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/ek_motionformer_224_32x3.pyth}} OUT=${OUT:-runs/ek_motionformer_224_32x3_test} \
PRESET=ek_motionformer_224_32x3 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
