#!/usr/bin/env bash
# Prepare what benchmarks/gpu_suite.sh needs on a GPU machine that reaches no network, into git-ignored folders:
#   .whl/   wheels of the packages that machine lacks (PyAV for CPython 3.12 manylinux; pure-Python fvcore, iopath,
#           yacs, termcolor, tensorboardX), the versions installed here;
#   .refs/  one reference checkout per project (read for timing only, never committed), exported from the bare
#           mirrors under MIRRORS (default ../.mirror beside the checkout, where the session tool `fetch` puts them).
# Then carry both: run(command="bash benchmarks/gpu_suite.sh", carry=[".whl", ".refs"]).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MIRRORS=${MIRRORS:-../.mirror}
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
mkdir -p .whl .refs
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "av==$(version av)"
"$PY" -m pip wheel -q --no-deps -w .whl "fvcore==$(version fvcore)" "iopath==$(version iopath)" \
  "yacs==$(version yacs)" "termcolor==$(version termcolor)" "tensorboardX==$(version tensorboardX)"
declare -A REPOS=([masnet]=Henry7Lee+MAS-Net-for-action-recognition [motionformer]=facebookresearch+Motionformer
                  [mgma]=zhenglab+mgma [st_abn]=machine-perception-robotics-group+ST-ABN_PyTorch
                  [efficient_slowfast]=weidafeng+Efficient-SlowFast)
for project in "${!REPOS[@]}"; do
  gitdir=$MIRRORS/${REPOS[$project]}/repo
  if ! git --git-dir="$gitdir" rev-parse HEAD >/dev/null 2>&1; then
    echo "no mirror of ${REPOS[$project]/+//} under $MIRRORS: the suite times $project without its reference"
    continue
  fi
  rm -rf ".refs/$project"
  # Snapshots can lack large files (demo media, weights): export the code and configs that are there.
  "$PY" - "$gitdir" ".refs/$project" <<'PYTHON'
import subprocess, sys
from pathlib import Path
gitdir, target = sys.argv[1], Path(sys.argv[2])
listing = subprocess.run(["git", f"--git-dir={gitdir}", "ls-tree", "-r", "-z", "HEAD"], capture_output=True,
                         check=True).stdout.split(b"\0")
written = skipped = 0
for entry in filter(None, listing):
    meta, path = entry.split(b"\t", 1)
    mode, kind, sha = meta.split()
    if kind != b"blob" or mode == b"120000" or not path.endswith((b".py", b".yaml", b".yml", b".json", b".txt")):
        continue  # code and configs are what the timing needs; the working tree travels within 64 MiB
    blob = subprocess.run(["git", f"--git-dir={gitdir}", "cat-file", "blob", sha.decode()], capture_output=True)
    if blob.returncode != 0:
        skipped += 1
        continue
    out = target / path.decode()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob.stdout)
    written += 1
print(f"reference: {target} ({written} files, {skipped} missing from the snapshot)")
PYTHON
done
du -sh .whl .refs
