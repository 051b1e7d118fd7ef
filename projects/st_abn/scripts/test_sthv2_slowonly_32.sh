#!/usr/bin/env bash
# Test the slow-only R50 baseline (sthv2_slowonly_32).
# Expected (sthv2_slowonly_32, 1x1 clips x crops, paper table not retrieved): top1 not published
# Views: the reference protocol (1 clip x 1 centre crop), then 2 clips x 3 crops.
# DATA_ROOT: the frame folders, files named {:06d}.jpg; TRAIN_LIST/VAL_LIST: TSM lists (folder num_frames label).
# CHECKPOINT: ours, or a reference epoch_*.pth (converted on load). Runs the 1x1 and the 2x3 protocol.
set -e
for views in "1 1" "2 3"; do
    set -- $views
    NUM_CLIPS=$1 NUM_CROPS=$2 CHECKPOINT=${CHECKPOINT:-${RUNS:-runs/st_abn}/sthv2_slowonly_32/checkpoints/best.pth} OUT=${RUNS:-runs/st_abn}/sthv2_slowonly_32/test_${1}x${2} \
    PRESET=sthv2_slowonly_32 bash "$(dirname "$0")/../../run_preset.sh" st_abn test --val-list "${VAL_LIST:-$DATA_ROOT/val_videofolder.txt}"
done
