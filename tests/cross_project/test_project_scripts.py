"""Every project's scripts/train.sh and scripts/test.sh: the headline preset by default, PRESET=... for any other,
and on a fresh clone (no DATA_ROOT) the tiny recipe on the generated synthetic dataset."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from projects import recipes

ROOT = Path(__file__).resolve().parents[2]
RECIPES = recipes()


@pytest.mark.parametrize("project", sorted(RECIPES))
@pytest.mark.parametrize("mode", ["train", "test"])
def test_each_project_has_train_and_test_scripts_on_its_headline_preset(project, mode):
    script = ROOT / "projects" / project / "scripts" / f"{mode}.sh"
    assert script.is_file() and os.access(script, os.X_OK), f"{script} missing or not executable"
    text = script.read_text()
    headline = re.search(r"HEADLINE_PRESET=(\S+) exec bash .*run_preset\.sh\" (\S+) (\S+) ", text)
    assert headline, f"{script}: no HEADLINE_PRESET=... exec bash .../run_preset.sh PROJECT MODE line"
    assert headline.group(1) in RECIPES[project].presets and headline.group(1) != "tiny_synthetic"
    assert (headline.group(2), headline.group(3)) == (project, mode)


def _run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **env})


def test_a_paper_preset_without_data_root_is_refused(tmp_path):
    done = _run("projects/masnet/scripts/train.sh", {"PRESET": "ssv1_16f", "RUNS": str(tmp_path)})
    assert done.returncode == 2 and "PRESET=ssv1_16f needs DATA_ROOT" in done.stderr


@pytest.mark.slow
def test_train_then_test_on_a_fresh_clone_runs_the_tiny_recipe(tmp_path):
    env = {"SYNTHETIC_ROOT": str(tmp_path / "synthetic"), "RUNS": str(tmp_path / "runs")}
    trained = _run("projects/masnet/scripts/train.sh", env, "--max-steps", "1", "--no-progress")
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    assert "generating the synthetic motion dataset" in trained.stdout
    assert (tmp_path / "runs" / "tiny_synthetic" / "checkpoints" / "last.pth").is_file()
    tested = _run("projects/masnet/scripts/test.sh", {**env, "NUM_CLIPS": "2", "NUM_CROPS": "3"}, "--no-progress")
    assert tested.returncode == 0, tested.stdout[-2000:] + tested.stderr[-2000:]
    scores = np.load(tmp_path / "runs" / "test_tiny_synthetic_2clips_3crops" / "scores.npz")
    assert scores["scores"].shape[1] == 6  # 2 clips x 3 crops per video
