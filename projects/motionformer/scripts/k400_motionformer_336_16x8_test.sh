#!/usr/bin/env bash
# Motionformer-HR on Kinetics-400 (336 px, 16x8), reference config K400/motionformer_336_16x8.yaml.
# Expected (k400_motionformer_336_16x8, 10x3 clips x crops, reference model zoo (README)): top1 81.1, top5 95.2
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/k400_motionformer_336_16x8.pyth
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/kinetics400}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/k400_motionformer_336_16x8.pyth}} OUT=${OUT:-runs/k400_motionformer_336_16x8_test} \
PRESET=k400_motionformer_336_16x8 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
