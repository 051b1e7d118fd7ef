#!/usr/bin/env bash
# Motionformer-HR on Kinetics-600 (336 px, 16x4), reference config K600/motionformer_336_16x4.yaml.
# Expected (k600_motionformer_336_16x4, 10x3 clips x crops, reference model zoo (README)): top1 82.7, top5 96.1
# Released checkpoint: https://dl.fbaipublicfiles.com/motionformer/k600_motionformer_336_16x8.pyth (README name; the config is 336_16x4)
# Test batch 64 views in total (8 per GPU on 8 GPUs); any GPU count gives the same scores.
GPUS=${GPUS:-8} DATA_ROOT=${DATA_ROOT:-${DATA:-data/kinetics600}} CHECKPOINT=${CHECKPOINT:-${CKPT:-checkpoints/k600_motionformer_336_16x8.pyth}} OUT=${OUT:-runs/k600_motionformer_336_16x4_test} \
PRESET=k600_motionformer_336_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
