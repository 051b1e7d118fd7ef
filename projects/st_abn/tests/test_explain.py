"""explain.py, the shared explain tool in the reference's figure style: an end-to-end run on generated frame folders
(the --val-list videos, the reference's boundary rule, attention editing with the reference's spelling)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from common.data.video_reader import VideoReader
from common.tools._explain_core import align_to_clip
from common.tools._explain_render import BAR_HEIGHT, jet, overlay
from projects.st_abn import build_model
from projects.st_abn.explain import main, translate


def test_the_reference_spellings_become_the_shared_flags() -> None:
    assert translate(["--reference-boundary", "--temporal-attention", "1", "-0.5", "--fps", "2"]) == [
        "--bar-ends", "exclude", "--edit-attention", "temporal_attention=1,-0.5", "--fps", "2"]


def test_explain_end_to_end_on_frame_folders(synthetic_dataset, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("st_abn_tiny", 4, num_frames=8)
    checkpoint = tmp_path / "last.pth"
    stored = {"variant": "st_abn_tiny", "num_frames": 8, "crop_size": 64, "scale_size": 64,
              "frame_template": synthetic_dataset.frame_template, "val_list": "annotations/rawframes/val.txt"}
    torch.save({"model": model.state_dict(), "config": stored}, checkpoint)
    out = tmp_path / "explain"
    summaries = main(["--checkpoint", str(checkpoint), "--data-root", str(synthetic_dataset.root), "--limit", "3",
                      "--test-batch-size", "2", "--device", "cpu", "--out", str(out), "--reference-boundary"])
    assert len(summaries) == 3 and len(list(out.glob("*/summary.json"))) == 3  # one folder per video id
    summary = summaries[0]
    assert summary["method"] == "attention" and len(summary["top5"]) == 4
    (explained,) = summary["explained"].values()
    folder = Path(explained["grid"]).parent
    assert explained["maps"] == ["spatial_attention", "temporal_attention"]
    assert len(list((folder / "spatial_attention").glob("frame_*.png"))) == 8
    with np.load(folder.parent / "attention.npz") as arrays:
        spatial, temporal = arrays["spatial_attention"], arrays["temporal_attention"][:, 0, 0]
        assert spatial.shape == (8, 4, 4) and ((temporal > 0) & (temporal < 1)).all()
    # The reference's figures: the raw sigmoid map in JET, 0.4 over 0.6 of the frame; the temporal bar with the
    # boundary frames drawn with their raw weights.
    bar = np.asarray(Image.open(folder / "temporal_attention" / "frame_00.png"))
    assert bar.shape == (BAR_HEIGHT + 64, 64, 3)
    np.testing.assert_array_equal(bar[0, 0], jet(temporal[0]))
    frame = np.asarray(Image.open(folder / "input" / "frame_03.png"))
    resized = align_to_clip(torch.from_numpy(spatial), 8, (64, 64))[3].numpy()  # bilinear, no min-max
    np.testing.assert_array_equal(np.asarray(Image.open(folder / "spatial_attention" / "frame_03.png")),
                                  overlay(frame[None], resized[None], 0.4, "jet")[0])
    with VideoReader(folder / "overlay.mp4") as reader:
        assert reader.num_frames == 8
    # Attention editing on a named frame folder (under --data-root): the given weights drive the perception branch.
    video_id = folder.parent.name
    (edited,) = main(["--checkpoint", str(checkpoint), "--data-root", str(synthetic_dataset.root),
                      "--video", f"frames/{video_id}", "--device", "cpu", "--out", str(tmp_path / "edit"),
                      "--temporal-attention", *["1", "0"] * 4])
    assert edited["edited"] == ["temporal_attention"]
    with np.load(tmp_path / "edit" / "attention.npz") as arrays:
        np.testing.assert_allclose(arrays["temporal_attention"].reshape(-1), [1, 0] * 4)
    assert json.loads((tmp_path / "edit" / "summary.json").read_text())["top5"] != summary["top5"]
