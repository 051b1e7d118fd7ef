"""Every project's tiny recipe learns: the ``tiny_synthetic`` preset (not from any paper) trains on a 2-class
direction dataset ("left to right" vs "right to left", `common.data.synthetic`) through the project's own
``main.py``, then ``test.py`` must reach a top-1 that a model blind to frame order cannot.

Every frame, and the average of a clip's frames, has the same distribution in both classes, so frame averaging
(TSN) sits at chance (50 %); a broken temporal model (frames shuffled, time pooled early, a recipe that does not
train) does too. ``LEARN_MARGIN_TOP1`` = 75 % of 24 validation videos is 18 right: a coin that ignores the clip gets
there with probability 1.1 %, and the seeded run is deterministic. Each case is sized to about 25 s of CPU on
2 cores (measured values in the projects' README "synthetic" lines).
"""
from __future__ import annotations

import importlib

import pytest
import torch

from common.data.synthetic import SyntheticDataset, make_synthetic_dataset
from projects import implemented_projects

LEARN_MARGIN_TOP1 = 75.0
CHANCE_TOP1 = 50.0
# 2 classes x 40 videos, 30 % held out: 56 training and 24 validation videos of 16 frames at 64 x 64.
DATA = dict(num_classes=2, videos_per_class=40, num_frames=16, height=64, width=64, fps=25, gop=16,
            formats=("mp4", "frames"), val_fraction=0.3, seed=0)


@pytest.fixture(scope="session")
def direction_dataset(tmp_path_factory: pytest.TempPathFactory) -> SyntheticDataset:
    """The 2-class direction dataset (both mp4s and frame folders: projects read one or the other)."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("direction"), **DATA)


@pytest.mark.slow
@pytest.mark.parametrize("project", implemented_projects())
def test_tiny_recipe_learns_the_direction_of_motion(project: str, direction_dataset: SyntheticDataset,
                                                    tmp_path) -> None:
    main = importlib.import_module(f"projects.{project}.main")
    test = importlib.import_module(f"projects.{project}.test")
    shared = ["--preset", "tiny_synthetic", "--data-root", str(direction_dataset.root), "--num-classes", "2",
              "--workers", "0", "--device", "cpu", "--no-progress", "--seed", "0"]
    run = tmp_path / "train"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the measured, reproducible run (float sums differ with the thread count)
    try:
        main.main(shared + ["--output-dir", str(run), "--eval-every", "1000"])
        metrics = test.main(shared + ["--checkpoint", str(run / "checkpoints" / "last.pth"), "--num-clips", "1",
                                      "--num-crops", "1", "--output-dir", str(tmp_path / "test")])
    finally:
        torch.set_num_threads(threads)
    assert metrics["num_videos"] == 24, metrics
    assert metrics["top1"] >= LEARN_MARGIN_TOP1, (
        f"{project}: tiny_synthetic reaches {metrics['top1']:.1f}% top-1 on the 2-class direction data, under the "
        f"{LEARN_MARGIN_TOP1:.0f}% a frame-order-blind model cannot reach (chance {CHANCE_TOP1:.0f}%)")
