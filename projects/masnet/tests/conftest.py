"""MAS-Net test fixtures: the CPU demo, trained once per test session and shared by the tests that read it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from projects.masnet.demo import run_demo


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """``run_demo(quick=True)`` (MAS-Net and TSN trained and tested on synthetic motion), with a relative output
    folder as ``make demo`` passes it; returns the folder and the summary."""
    root = tmp_path_factory.mktemp("masnet_demo")
    previous = os.getcwd()
    os.chdir(root)
    try:
        summary = run_demo(Path("out"), quick=True, workers=0)
    finally:
        os.chdir(previous)
    return root / "out", summary
