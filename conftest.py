"""Session-wide pytest fixtures shared by the tests of `common` and of every project."""
from __future__ import annotations

import pytest

from common.data.synthetic import SyntheticDataset, make_synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> SyntheticDataset:
    """A small motion dataset built once per session: 4 classes x 6 videos (16 train / 8 val), 32 frames of 64x64
    at 25 fps, GOP 16, as H.264 mp4s and JPEG folders, with every annotation format (see `common.data.synthetic`)."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), num_classes=4, videos_per_class=6,
                                  num_frames=32, height=64, width=64, fps=25, gop=16, formats=("mp4", "frames"),
                                  val_fraction=0.25, seed=0)
