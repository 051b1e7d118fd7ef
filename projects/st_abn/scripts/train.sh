#!/usr/bin/env bash
# Train the paper's headline configuration: ST-ABN R50 on Something-Something v1, 32 segments (preset sthv1_st_abn_32).
# PRESET=<name> for any other configuration; without DATA_ROOT the tiny recipe (tiny_synthetic, not from the paper)
# runs on the generated synthetic motion dataset, so this works on a fresh clone. NPROC, RUNS, PRETRAINED: see
# projects/run_preset.sh. Extra arguments go to main.py (e.g. --batch-size 16 --auto-scale-lr).
HEADLINE_PRESET=sthv1_st_abn_32 exec bash "$(dirname "$0")/../../run_preset.sh" st_abn train "$@"
