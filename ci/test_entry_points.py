"""Every registered project's entry points run in CI: `--help` of main.py and test.py (as modules and as scripts),
then a 2-step training run and a multi-view test on generated clips, driven by the project's ``SMOKE_ARGS``
(contract: ``ci/SMOKE_CONTRACT.md``)."""
from __future__ import annotations

import contextlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from projects import implemented_projects

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECTS = implemented_projects()
ENTRY_POINTS = ("main", "test")


def run_entry_point(module: str, argv: list[str]) -> int:
    """Run ``python -m module *argv`` in this process; the exit status (0 when it returns normally)."""
    saved_argv = sys.argv
    sys.argv = [module, *argv]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
    finally:
        sys.argv = saved_argv
    return 0


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("project", list(PROJECTS))
def test_help_as_module(project, entry, capsys):
    status = run_entry_point(f"projects.{project}.{entry}", ["--help"])
    output = capsys.readouterr().out
    assert status == 0, f"python -m projects.{project}.{entry} --help exited with {status}"
    assert "usage:" in output.lower() and "--help" in output, f"projects.{project}.{entry} --help printed no usage"


@pytest.mark.parametrize("project", list(PROJECTS))
def test_help_as_script_from_project_directory(project):
    """``cd projects/<p> && python main.py --help`` (and test.py) work without installing or setting PYTHONPATH."""
    project_dir = REPO_ROOT / "projects" / project
    code = ("import runpy, sys\n"
            "for script in ('main.py', 'test.py'):\n"
            "    sys.argv = [script, '--help']\n"
            "    try:\n"
            "        runpy.run_path(script, run_name='__main__')\n"
            "    except SystemExit as stop:\n"
            "        assert stop.code in (0, None), f'{script} --help exited with {stop.code}'\n")
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=project_dir, env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"projects/{project}: script --help failed:\n{result.stderr[-3000:]}"
    assert result.stdout.lower().count("usage:") == 2, f"projects/{project}: expected two usage texts"


def _filled(argv: list[str], **places: str) -> list[str]:
    return [argument.format(**places) for argument in argv]


@pytest.mark.parametrize("project", list(PROJECTS))
def test_two_step_train_then_multiview_test(project, synthetic_dataset, tmp_path):
    smoke = getattr(PROJECTS[project], "SMOKE_ARGS", None)
    if smoke is None:
        pytest.skip(f"project {project} exports no SMOKE_ARGS yet (contract: ci/SMOKE_CONTRACT.md)")
    places = {"data_root": str(synthetic_dataset.root), "train_dir": str(tmp_path / "train"),
              "test_dir": str(tmp_path / "test")}
    for name in ("train_dir", "test_dir"):
        Path(places[name]).mkdir()

    status = run_entry_point(f"projects.{project}.main", _filled(smoke["train"], **places))
    assert status == 0, f"{project}: 2-step training exited with {status}"
    train_dir = Path(places["train_dir"])
    assert list(train_dir.rglob("config.json")), f"{project}: the training run wrote no config.json"
    checkpoints = [path for path in train_dir.rglob("*") if path.is_file() and path.suffix in (".pt", ".pth", ".pyth")]
    assert checkpoints, f"{project}: the training run wrote no checkpoint under {train_dir}"

    status = run_entry_point(f"projects.{project}.test", _filled(smoke["test"], **places))
    assert status == 0, f"{project}: multi-view test exited with {status}"
    score_files = list(Path(places["test_dir"]).rglob("*.npz"))
    assert score_files, f"{project}: the test run wrote no .npz of per-view scores"
    with contextlib.closing(np.load(score_files[0], allow_pickle=False)) as scores:
        floats = [scores[key] for key in scores.files if np.issubdtype(scores[key].dtype, np.floating)]
    assert floats and all(np.isfinite(array).all() for array in floats), f"{project}: non-finite or no scores"
