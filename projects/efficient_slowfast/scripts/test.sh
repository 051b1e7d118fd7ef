#!/usr/bin/env bash
# Multi-view test of the run scripts/train.sh wrote (or CHECKPOINT=<file>, ours or a released reference one):
# the dual-attention (CMDA) SlowFast-R50 on Kinetics-400, 32x2 (preset k400_dual).
# NUM_CLIPS / NUM_CROPS override the preset's protocol; PRESET=<name> for another configuration; without DATA_ROOT
# the tiny recipe's run on the synthetic dataset is tested. Extra arguments go to test.py.
HEADLINE_PRESET=k400_dual exec bash "$(dirname "$0")/../../run_preset.sh" efficient_slowfast test "$@"
