#!/usr/bin/env bash
# Divided on Something-Something v2 (224 px, 16x4), reference config SSV2/divided_224_16x4.yaml.
# Expected (ssv2_divided_224_16x4, 1x3 clips x crops, reference model zoo (README)): top1 64.2, top5 88.6
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/ssv2_divided_224_16x4.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/ssv2}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/ssv2_divided_224_16x4.pyth}} OUT=${OUT:-runs/ssv2_divided_224_16x4_test} \
PRESET=ssv2_divided_224_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
