#!/usr/bin/env bash
# Multi-view test of the run scripts/train.sh wrote (or CHECKPOINT=<file>, ours or a released reference one):
# MAS-Net R50 on Something-Something v1, 8 frames (preset ssv1_8f).
# NUM_CLIPS / NUM_CROPS override the preset's protocol; PRESET=<name> for another configuration; without DATA_ROOT
# the tiny recipe's run on the synthetic dataset is tested. Extra arguments go to test.py.
HEADLINE_PRESET=ssv1_8f exec bash "$(dirname "$0")/../../run_preset.sh" masnet test "$@"
