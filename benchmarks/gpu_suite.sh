#!/usr/bin/env bash
# Every GPU figure in one short run (benchmarks/README.md, "GPU suite"). On the GPU machine its python3 has torch and
# triton but not PyAV, fvcore or tensorboardX: they come from the wheels that benchmarks/prepare_gpu_suite.sh put in
# .whl/ (git-ignored). Arguments go to `python -m benchmarks.gpu_suite` (--dry-run, --budget-s, --out, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import av, fvcore, tensorboardX" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "gpu_suite: PyAV / fvcore / tensorboardX are missing and .whl/ has no wheels: run" \
         "bash benchmarks/prepare_gpu_suite.sh where pip can download" >&2
    exit 2
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_suite_site \
    .whl/*.whl || exit 2
  export PYTHONPATH=/tmp/gpu_suite_site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
exec "$PY" -m benchmarks.gpu_suite "$@"
