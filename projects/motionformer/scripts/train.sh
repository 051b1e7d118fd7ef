#!/usr/bin/env bash
# Train the paper's headline configuration: Motionformer (trajectory attention) on Kinetics-400, 16x224 (preset k400_motionformer_224_16x4).
# PRESET=<name> for any other configuration; without DATA_ROOT the tiny recipe (tiny_synthetic, not from the paper)
# runs on the generated synthetic motion dataset, so this works on a fresh clone. NPROC, RUNS, PRETRAINED: see
# projects/run_preset.sh. Extra arguments go to main.py (e.g. --batch-size 16 --auto-scale-lr).
HEADLINE_PRESET=k400_motionformer_224_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer train "$@"
