#!/usr/bin/env bash
# Motionformer on EPIC-KITCHENS-100 (224 px, 16x4), reference config EK/motionformer_224_16x4.yaml.
# Expected (ek_motionformer_224_16x4, 10x3 clips x crops, reference model zoo (README), EPIC-100 validation split): action_top1 43.1, noun_top1 56.5
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ek_motionformer_224_16x4.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/epic100}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/ek_motionformer_224_16x4.pyth}} OUT=${OUT:-runs/ek_motionformer_224_16x4_test} \
PRESET=ek_motionformer_224_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
