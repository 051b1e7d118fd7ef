#!/usr/bin/env bash
# The driver behind every project's scripts/train.sh and scripts/test.sh:
#   bash projects/run_preset.sh PROJECT train|test [more flags for main.py / test.py]
# Environment (all optional):
#   PRESET      the configuration (default: HEADLINE_PRESET, the paper's headline one, set by scripts/*.sh)
#   DATA_ROOT   the dataset root; unset = the project's tiny recipe (tiny_synthetic) on the synthetic motion
#               dataset in SYNTHETIC_ROOT (default data/synthetic, generated on first use), so it runs anywhere
#   RUNS        where runs go (default runs/PROJECT); the run directory is RUNS/PRESET
#   NPROC       processes (GPUs) for torchrun (default GPUS, else 1; --batch-size is global, so the recipe does not change)
#   PER_GPU     clips per GPU: adds --batch-size NPROC*PER_GPU --auto-scale-lr (and --accum-steps ACCUM if ACCUM is set)
#   OUT         the output directory (default RUNS/PRESET for train, RUNS/test_PRESET[_Nclips][_Ncrops] for test)
#   CHECKPOINT  test: the checkpoint (default RUNS/PRESET/checkpoints/last.pth, or a released reference file)
#   NUM_CLIPS, NUM_CROPS   test: views per video (default: the preset's protocol)
#   PRETRAINED  train: local ImageNet weights for --pretrained (nothing is ever downloaded)
#   PYTHON      the interpreter (default .venv/bin/python when it exists, else python3)
# The per-row scripts (scripts/train_<preset>.sh ...) are one call of this driver each (st_abn's test rows: one per
# view protocol): PRESET=<preset> and their defaults (NPROC or GPUS, PER_GPU, CHECKPOINT, OUT, ...) in the
# environment, their row's flags (lists, views, init weights) as arguments.
set -euo pipefail
project=${1:?usage: bash projects/run_preset.sh PROJECT train|test [flags]}
mode=${2:?usage: bash projects/run_preset.sh PROJECT train|test [flags]}
shift 2
cd "$(dirname "$0")/.."
[ -d "projects/$project" ] || { echo "run_preset.sh: no project '$project' under projects/" >&2; exit 2; }
case "$mode" in train) entry=main ;; test) entry=test ;; *) echo "run_preset.sh: mode is train or test" >&2; exit 2 ;; esac
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
args=()
if [ -z "${DATA_ROOT:-}" ]; then
  if [ -n "${PRESET:-}" ] && [ "$PRESET" != tiny_synthetic ]; then
    echo "run_preset.sh: PRESET=$PRESET needs DATA_ROOT (the dataset root); without it the tiny recipe runs" >&2
    exit 2
  fi
  PRESET=tiny_synthetic
  DATA_ROOT=${SYNTHETIC_ROOT:-data/synthetic}
  if [ ! -f "$DATA_ROOT/annotations/category.txt" ]; then
    echo "generating the synthetic motion dataset in $DATA_ROOT (once)"
    "$PYTHON" -m common.data.synthetic --out "$DATA_ROOT"
  fi
  cores=$(nproc 2>/dev/null || echo 2)
  args+=(--device cpu --workers $((cores < 4 ? cores : 4)))
fi
PRESET=${PRESET:-${HEADLINE_PRESET:?set PRESET (or HEADLINE_PRESET in the calling script)}}
RUNS=${RUNS:-runs/$project}
NPROC=${NPROC:-${GPUS:-1}}
args+=(--preset "$PRESET" --data-root "$DATA_ROOT")
if [ "$mode" = train ]; then
  args+=(--output-dir "${OUT:-$RUNS/$PRESET}" --resume auto)
  [ -n "${PRETRAINED:-}" ] && args+=(--pretrained "$PRETRAINED")
else
  args+=(--checkpoint "${CHECKPOINT:-$RUNS/$PRESET/checkpoints/last.pth}")
  args+=(--output-dir "${OUT:-$RUNS/test_${PRESET}${NUM_CLIPS:+_${NUM_CLIPS}clips}${NUM_CROPS:+_${NUM_CROPS}crops}}")
  [ -n "${NUM_CLIPS:-}" ] && args+=(--num-clips "$NUM_CLIPS")
  [ -n "${NUM_CROPS:-}" ] && args+=(--num-crops "$NUM_CROPS")
fi
[ -n "${PER_GPU:-}" ] && args+=(--batch-size $((NPROC * PER_GPU)) ${ACCUM:+--accum-steps "$ACCUM"} --auto-scale-lr)
if [ "$NPROC" -gt 1 ]; then
  exec "$PYTHON" -m torch.distributed.run --nproc-per-node "$NPROC" -m "projects.$project.$entry" "${args[@]}" "$@"
fi
exec "$PYTHON" -m "projects.$project.$entry" "${args[@]}" "$@"
