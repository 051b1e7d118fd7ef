#!/usr/bin/env bash
# Multi-view test of the run scripts/train.sh wrote (or CHECKPOINT=<file>, ours or a released reference one):
# MGMA-R3D-34 (TSA, 8 groups) on UCF101 split 1, from scratch (preset ucf101_r3d34_tsa_g8).
# NUM_CLIPS / NUM_CROPS override the preset's protocol; PRESET=<name> for another configuration; without DATA_ROOT
# the tiny recipe's run on the synthetic dataset is tested. Extra arguments go to test.py.
HEADLINE_PRESET=ucf101_r3d34_tsa_g8 exec bash "$(dirname "$0")/../../run_preset.sh" mgma test "$@"
