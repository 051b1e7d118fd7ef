#!/usr/bin/env bash
# Multi-view test of the run scripts/train.sh wrote (or CHECKPOINT=<file>, ours or a released reference one):
# Motionformer (trajectory attention) on Kinetics-400, 16x224 (preset k400_motionformer_224_16x4).
# NUM_CLIPS / NUM_CROPS override the preset's protocol; PRESET=<name> for another configuration; without DATA_ROOT
# the tiny recipe's run on the synthetic dataset is tested. Extra arguments go to test.py.
HEADLINE_PRESET=k400_motionformer_224_16x4 exec bash "$(dirname "$0")/../../run_preset.sh" motionformer test "$@"
