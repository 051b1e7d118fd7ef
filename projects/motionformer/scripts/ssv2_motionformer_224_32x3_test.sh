#!/usr/bin/env bash
# Motionformer-L on Something-Something v2 (224 px, 32x3), reference config SSV2/motionformer_224_32x3.yaml.
# Expected (ssv2_motionformer_224_32x3, 1x3 clips x crops, reference model zoo (README)): top1 68.1, top5 91.2
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ssv2_motionformer_224_32x3.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/ssv2}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/ssv2_motionformer_224_32x3.pyth}} OUT=${OUT:-runs/ssv2_motionformer_224_32x3_test} \
PRESET=ssv2_motionformer_224_32x3 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
