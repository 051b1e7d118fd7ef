#!/usr/bin/env bash
# Train the paper's headline configuration: the dual-attention (CMDA) SlowFast-R50 on Kinetics-400, 32x2 (preset k400_dual).
# PRESET=<name> for any other configuration; without DATA_ROOT the tiny recipe (tiny_synthetic, not from the paper)
# runs on the generated synthetic motion dataset, so this works on a fresh clone. NPROC, RUNS, PRETRAINED: see
# projects/run_preset.sh. Extra arguments go to main.py (e.g. --batch-size 16 --auto-scale-lr).
HEADLINE_PRESET=k400_dual exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast train "$@"
