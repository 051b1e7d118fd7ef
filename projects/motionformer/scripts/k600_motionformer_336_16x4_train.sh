#!/usr/bin/env bash
# Motionformer-HR on Kinetics-600 (336 px, 16x4), reference config K600/motionformer_336_16x4.yaml.
# Expected (k600_motionformer_336_16x4, 10x3 clips x crops, reference model zoo (README)): top1 82.7, top5 96.1
# Reference batch: 64 clips in total = 64 GPUs (8 nodes x 8) x 1 per GPU, base lr 3.75e-5
# (maintainer, issue #4; the YAML batch 12 floors to 1 clip per GPU). --batch-size is global here.
# Fewer GPUs: keep 1 clip(s) per GPU; --auto-scale-lr scales the preset's lr linearly from its
# reference batch to GPUS x PER_GPU x ACCUM (ACCUM: --accum-steps; ACCUM=K reaches the reference batch with
# K times fewer GPUs and keeps the reference lr).
# Initialised from ImageNet ViT-B/16 (timm jx_vit_base_p16_224-80ecf9dd.pth, a local file).
GPUS=${GPUS:-8} PER_GPU=${PER_GPU:-1} ACCUM=${ACCUM:-1} DATA_ROOT=${DATA_ROOT:-${DATA:-data/kinetics600}} OUT=${OUT:-runs/k600_motionformer_336_16x4} \
PRESET=k600_motionformer_336_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer train \
    --imagenet-weights "${VIT:-checkpoints/jx_vit_base_p16_224-80ecf9dd.pth}" "$@"
