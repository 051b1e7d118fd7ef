"""common.tools.demo (annotated H.264 out of a video) and common.tools.predict (CLI and the Python function)."""
from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
import torch

from common.engine.app import parse_config
from common.tools import demo, predict
from projects import recipes


@pytest.fixture(scope="module")
def run_dir(synthetic_dataset, tmp_path_factory) -> Path:
    """A MAS-Net tiny run directory as main.py leaves it: config.json and checkpoints/last.pth (untrained)."""
    recipe = recipes()["masnet"]
    cfg, _ = parse_config(recipe, ["--preset", "tiny_synthetic", "--data-root", str(synthetic_dataset.root)], "train")
    torch.manual_seed(0)
    model = recipe.build_model(cfg, log=lambda message: None)
    run = tmp_path_factory.mktemp("masnet_run")
    (run / "checkpoints").mkdir()
    torch.save({"model": model.state_dict(), "config": vars(cfg)}, run / "checkpoints" / "last.pth")
    (run / "config.json").write_text(json.dumps({"config": vars(cfg)}))
    return run


def test_demo_writes_annotated_h264_at_the_input_rate(run_dir, synthetic_dataset, tmp_path):
    video = synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id)
    out, log = tmp_path / "annotated.mp4", tmp_path / "log.jsonl"
    summary = demo.main(["--project", "masnet", "--checkpoint", str(run_dir / "checkpoints" / "last.pth"),
                         "--data-root", str(synthetic_dataset.root), "--device", "cpu", "--input", str(video),
                         "--out", str(out), "--stride", "4", "--window", "8", "--max-frames", "20", "--gradcam",
                         "--height", "64", "--json", str(log), "--no-progress"])
    assert summary["frames"] == 20 and summary["predictions"] == 4  # frames 8, 12, 16, 20
    assert summary["clips_per_second"] > 0 and summary["video_frames_per_second"] > 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["frame"] for line in lines] == [7, 11, 15, 19] and len(lines[0]["top_k"]) == 3
    assert lines[0]["time"] == pytest.approx(7 / 25)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 25
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == 20 and decoded[0].shape == (64, 128, 3)  # the frame, then the Grad-CAM panel


def test_predict_function_and_cli(run_dir, synthetic_dataset, capsys):
    video = str(synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id))
    loaded = predict.load_run(run_dir)
    names = loaded.class_names
    best = predict.predict(loaded, video, k=3)
    assert [label for label, _ in best] == sorted((label for label, _ in best), key=dict(best).get, reverse=True)
    assert len(best) == 3 and all(label in names for label, _ in best) and sum(s for _, s in best) <= 1 + 1e-6
    assert predict.predict(run_dir, video, k=3) == best  # from the run directory alone
    one = predict.predict(loaded, video, k=4, one_view=True)
    assert sum(score for _, score in one) == pytest.approx(1.0, abs=1e-5)
    results = predict.main(["--project", "masnet", "--checkpoint", str(run_dir / "checkpoints" / "last.pth"),
                            "--data-root", str(synthetic_dataset.root), "--device", "cpu", "--json", "--top-k", "2",
                            video, video])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(printed) == 2 and [entry["label"] for entry in printed[0]["top_k"]] == [l for l, _ in results[video]]
