"""Every registered project's entry points run in CI: `--help` of main.py and test.py (as modules and as scripts),
every preset resolves, then a 2-step training run and a multi-view test on generated clips, driven by the project's
``SMOKE_ARGS`` (contract: ``ci/SMOKE_CONTRACT.md``)."""
from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.engine.app import build_parser
from projects import implemented_projects, recipes

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECTS = implemented_projects()
RECIPES = recipes()
ENTRY_POINTS = ("main", "test")


def run_entry_point(module: str, argv: list[str]) -> int:
    """Run ``python -m module *argv`` in this process; the exit status (0 when it returns normally)."""
    saved_argv = sys.argv
    sys.argv = [module, *argv]
    sys.modules.pop(module, None)  # imported earlier by a sibling entry point; run a fresh copy as __main__
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


SCRIPT_HELP_RUNNER = """
import contextlib, io, json, os, runpy, sys, traceback
for project_dir in sys.argv[1:]:
    os.chdir(project_dir)
    sys.path[0] = project_dir  # what `python main.py` sets
    for script in ("main.py", "test.py"):
        sys.argv, output, status = [script, "--help"], io.StringIO(), 0
        try:
            with contextlib.redirect_stdout(output):
                runpy.run_path(script, run_name="__main__")
        except SystemExit as stop:
            status = stop.code or 0
        except BaseException:
            status = traceback.format_exc()[-2000:]
        print(json.dumps({"dir": project_dir, "script": script, "status": status, "stdout": output.getvalue()}))
"""


@pytest.fixture(scope="module")
def script_help_runs() -> dict[tuple[str, str], dict]:
    """``python main.py --help`` and ``python test.py --help`` from each project directory, in one fresh
    interpreter without PYTHONPATH (one torch import for all projects instead of one per script)."""
    directories = [str(REPO_ROOT / "projects" / project) for project in PROJECTS]
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", SCRIPT_HELP_RUNNER, *directories], cwd=REPO_ROOT / "projects",
                            env=environment, capture_output=True, text=True, timeout=300)
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"dir"')]
    return {(Path(run["dir"]).name, run["script"]): run for run in runs} | {("", "stderr"): {"text": result.stderr}}


@pytest.mark.parametrize("project", list(PROJECTS))
def test_help_as_script_from_project_directory(project, script_help_runs):
    """``cd projects/<p> && python main.py --help`` (and test.py) work without installing or setting PYTHONPATH."""
    for script in ("main.py", "test.py"):
        run = script_help_runs.get((project, script))
        assert run is not None, f"projects/{project}/{script} --help did not run:\n{script_help_runs['', 'stderr']}"
        assert run["status"] == 0, f"projects/{project}/{script} --help failed: {run['status']}"
        assert "usage:" in run["stdout"].lower(), f"projects/{project}/{script} --help printed no usage"


@pytest.mark.parametrize("project", list(RECIPES))
def test_presets_are_flags_and_the_tiny_preset_exists(project):
    recipe = RECIPES[project]
    assert recipe.name == project, f"projects/{project}/recipe.py: RECIPE.name is {recipe.name!r}"
    assert "tiny_synthetic" in recipe.presets, f"{project}: no tiny_synthetic preset (projects/README.md)"
    destinations = set(vars(build_parser(recipe, "train").parse_args([])))
    for name, preset in recipe.presets.items():
        assert set(preset) <= destinations, f"{project} preset {name} sets non-flags {set(preset) - destinations}"
        assert preset.get("variant", recipe.defaults.get("variant")) in recipe.variants, (project, name)


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
    report = [path.read_text() for path in Path(places["test_dir"]).rglob("report.txt")]
    assert report, f"{project}: the test run wrote no report.txt"
    assert "checkpoint " in report[0] and " clips x " in report[0] and "per-class accuracy" in report[0]


def test_documented_commands_name_existing_presets():
    """The sbatch template's example and the projects' scripts name presets their project defines."""
    documents = [REPO_ROOT / "common" / "tools" / "slurm_train.sbatch", *REPO_ROOT.glob("projects/*/scripts/*.sh")]
    for path in documents:
        text = path.read_text()
        commands = re.findall(r"projects\.(\w+)\.(?:main|test)\b[^\n]*?(?:\\\n[^\n]*?)*--preset ([a-z0-9_]+)", text)
        # the per-row scripts' form: PRESET=<name> [exec] bash .../run_preset.sh" <project> train|test
        rows = re.findall(r"\bPRESET=([a-z0-9_]+) (?:exec )?bash [^\n]*?run_preset\.sh\" (\w+) (?:train|test)\b", text)
        commands += [(project, preset) for preset, project in rows]
        if "run_preset.sh" in text and path.name not in ("train.sh", "test.sh"):
            assert rows, f"{path.relative_to(REPO_ROOT)}: calls run_preset.sh without PRESET=<name> [exec] bash ..."
        for project, preset in commands:
            assert project in RECIPES, f"{path.relative_to(REPO_ROOT)}: no project {project}"
            where = path.relative_to(REPO_ROOT)
            assert preset in RECIPES[project].presets, f"{where}: {project} has no preset {preset}"
