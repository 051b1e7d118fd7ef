#!/usr/bin/env bash
# Train the paper's headline configuration: MGMA-R3D-34 (TSA, 8 groups) on UCF101 split 1, from scratch (preset ucf101_r3d34_tsa_g8).
# PRESET=<name> for any other configuration; without DATA_ROOT the tiny recipe (tiny_synthetic, not from the paper)
# runs on the generated synthetic motion dataset, so this works on a fresh clone. NPROC, RUNS, PRETRAINED: see
# projects/run_preset.sh. Extra arguments go to main.py (e.g. --batch-size 16 --auto-scale-lr).
HEADLINE_PRESET=ucf101_r3d34_tsa_g8 exec bash "$(dirname "$0")/../../run_preset.sh" mgma train "$@"
