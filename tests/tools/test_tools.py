"""The data tools on generated videos, frame folders and score files, called through their CLIs."""
from __future__ import annotations

import csv
import json
import runpy
import shutil
import sys

import av
import numpy as np
import pytest

from common.data.annotations import VideoRecord, read_rawframe_list, read_slowfast_csv
from common.data.datasets import video_ids
from common.data.frame_folder import FrameFolderReader
from common.engine.multiview import MultiViewTestMeter
from common.data.video_writer import write_h264
from common.data.video_reader import VideoReader
from common.tools import average_scores, build_lists, check_videos, extract_frames, reencode


@pytest.fixture(scope="module")
def videos(tmp_path_factory, synthetic_dataset):
    """Two good videos from the shared dataset, one truncated with its header intact, one broken, one text file."""
    root = tmp_path_factory.mktemp("tool_videos")
    for video in synthetic_dataset.split_videos("val")[:2]:
        shutil.copy(synthetic_dataset.video_path(video.video_id), root / f"good_{video.video_id}.mp4")
    clip = FrameFolderReader(synthetic_dataset.frame_folder("000000")).read(range(32))
    write_h264(root / "truncated.mp4", clip, fps=25, gop=8, faststart=True)
    data = (root / "truncated.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) * 2 // 3])
    (root / "broken.mp4").write_bytes(data[:100])
    (root / "notes.txt").write_text("not a video")
    return root


def test_check_videos_reports_every_problem(videos, tmp_path, capsys):
    report = tmp_path / "report.csv"
    status = check_videos.main([str(videos), "--report", str(report), "--workers", "2", "--decode", "all"])
    assert status == 1
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in csv.DictReader(report.open())}
    assert sorted(rows) == ["broken.mp4", "good_000000.mp4", "good_000001.mp4", "truncated.mp4"]  # .txt ignored
    assert rows["good_000000.mp4"]["status"] == "ok" and rows["good_000000.mp4"]["num_frames"] == "32"
    assert rows["good_000000.mp4"]["gop"] == "16"
    assert rows["truncated.mp4"]["status"] == "mismatch" and "header says 32 frames" in rows["truncated.mp4"]["message"]
    assert rows["broken.mp4"]["status"] == "error" and rows["broken.mp4"]["message"].startswith(str(videos))
    assert "4 videos: 2 ok, 1 mismatch, 1 error" in capsys.readouterr().out


def test_check_videos_list_and_json(synthetic_dataset, tmp_path):
    report = tmp_path / "report.json"
    status = check_videos.main(["--list", str(synthetic_dataset.annotation_file("slowfast_csv", "val")),
                                "--data-root", str(synthetic_dataset.root), "--report", str(report)])
    rows = json.loads(report.read_text())
    assert status == 0 and len(rows) == 8 and {row["status"] for row in rows} == {"ok"}
    missing = check_videos.check_video(str(tmp_path / "gone.mp4"))
    assert missing.status == "error" and "no such file" in missing.message


def test_extract_frames_matches_the_reader(synthetic_dataset, tmp_path):
    video = synthetic_dataset.video_path("000001")
    status = extract_frames.main([str(video), "--out", str(tmp_path), "--template", "{:05d}.jpg", "--quality", "100"])
    assert status == 0
    folder = FrameFolderReader(tmp_path / "000001", template="{:05d}.jpg")
    with VideoReader(video) as reader:
        decoded = reader.read(range(reader.num_frames))
    assert folder.num_frames == 32 and not list(tmp_path.glob("*.partial"))
    assert folder.fps == pytest.approx(25.0)  # the video's rate, kept in the folder's fps.txt
    assert np.abs(folder.read(range(32)).astype(int) - decoded).mean() < 2  # only JPEG loss at quality 100
    assert extract_frames.extract_video(video, tmp_path / "small", short_side=32) == 32
    assert FrameFolderReader(tmp_path / "small").read([0]).shape == (1, 32, 32, 3)
    assert extract_frames.scaled_size(1280, 720, 256) == (456, 256)
    assert extract_frames.scaled_size(720, 1280, 256) == (256, 456)
    assert extract_frames.scaled_size(320, 240, 256) == (320, 240)  # never upscaled


def test_extract_frames_bad_video(videos, tmp_path, capsys):
    assert extract_frames.main([str(videos / "broken.mp4"), "--out", str(tmp_path)]) == 1
    assert "broken.mp4" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no partial folder left behind


def test_reencode_with_pyav(synthetic_dataset, tmp_path):
    source = tmp_path / "in" / "wide.mp4"
    source.parent.mkdir()
    clip = np.concatenate([FrameFolderReader(synthetic_dataset.frame_folder("000002")).read(range(32))] * 2, axis=2)
    write_h264(source, clip, fps=30, gop=250)  # 64x128, one keyframe
    assert reencode.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--backend", "pyav",
                          "--short-side", "256"]) == 0
    with VideoReader(tmp_path / "out" / "wide.mp4") as reader:
        assert (reader.num_frames, reader.gop, reader.fps, reader.width, reader.height) == (32, 16, 30.0, 128, 64)
    reencode.reencode(str(source), str(tmp_path / "small.mp4"), short_side=32, gop=4, backend="pyav")
    with VideoReader(tmp_path / "small.mp4") as reader:
        assert (reader.width, reader.height, reader.gop, reader.num_frames) == (64, 32, 4, 32)
    with pytest.raises(reencode.VideoDecodeError, match="nothing.mp4: no such file"):
        reencode.reencode(str(tmp_path / "nothing.mp4"), str(tmp_path / "x.mp4"), backend="pyav")
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.mp4.partial.mp4").exists()


def test_reencode_forces_the_gop_and_any_short_side(synthetic_dataset, tmp_path):
    """Source keyframes (every 12 frames here) must not carry over: the output has one exactly every --gop."""
    source = tmp_path / "gop12.mp4"
    write_h264(source, FrameFolderReader(synthetic_dataset.frame_folder("000003")).read(range(32)), fps=25, gop=12)
    assert reencode.main([str(source), "--out", str(tmp_path / "out"), "--backend", "pyav", "--gop", "16",
                          "--short-side", "48"]) == 0
    with av.open(str(tmp_path / "out" / "gop12.mp4")) as container:
        frames = list(container.decode(video=0))
    assert [i for i, frame in enumerate(frames) if frame.key_frame] == [0, 16]
    assert (frames[0].height, frames[0].width) == (48, 48)
    with pytest.raises(SystemExit):
        reencode.main([str(source), "--out", str(tmp_path / "odd"), "--short-side", "47"])


def test_reencode_ffmpeg_command(monkeypatch):
    command = reencode.ffmpeg_command("in.avi", "out.mp4", 320, 16, 23)
    assert command[0] == "ffmpeg" and command[-1] == "out.mp4" and "-an" in command
    assert "keyint=16:min-keyint=16:scenecut=0" in command
    assert "min(320,ih)" in command[command.index("-vf") + 1]
    monkeypatch.setattr(reencode.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="no ffmpeg binary"):
        reencode.reencode("in.avi", "out.mp4", backend="ffmpeg")


def test_build_lists_from_class_folders(synthetic_dataset, tmp_path):
    tree = tmp_path / "tree"
    for video in synthetic_dataset.split_videos("val"):
        name = synthetic_dataset.class_names[video.label].replace(" ", "_")
        (tree / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(synthetic_dataset.video_path(video.video_id), tree / name / f"{video.video_id}.mp4")
        shutil.copytree(synthetic_dataset.frame_folder(video.video_id), tmp_path / "frames" / name / video.video_id)
    status = build_lists.main(["folders", str(tree), "--out", str(tmp_path / "val.csv"),
                               "--classes-out", str(tmp_path / "classes.txt")])
    assert status == 0
    records = read_slowfast_csv(tmp_path / "val.csv", data_root=tree, num_classes=4)
    assert [r.label for r in records] == [v.label for v in synthetic_dataset.split_videos("val")]
    names = [name.replace(" ", "_") for name in synthetic_dataset.class_names]
    assert (tmp_path / "classes.txt").read_text().split() == names
    status = build_lists.main(["folders", str(tmp_path / "frames"), "--format", "rawframes", "--out",
                               str(tmp_path / "frames.txt"), "--classes", str(tmp_path / "classes.txt")])
    frames = read_rawframe_list(tmp_path / "frames.txt", data_root=tmp_path / "frames")
    assert status == 0 and [r.num_frames for r in frames] == [32] * 8
    (tmp_path / "frames" / "Unknown_class").mkdir()
    assert build_lists.main(["folders", str(tmp_path / "frames"), "--format", "rawframes", "--out",
                             str(tmp_path / "x.txt"), "--classes", str(tmp_path / "classes.txt")]) == 1


@pytest.mark.parametrize("source", ["ssv2", "sthv1", "jester"])
def test_build_lists_from_release_files(synthetic_dataset, tmp_path, source, capsys):
    split = synthetic_dataset.annotation_file(source, "train")
    out = tmp_path / "train_videofolder.txt"
    args = [source, "--labels", str(synthetic_dataset.category_file(source)), "--split", str(split),
            "--frames-root", str(synthetic_dataset.root / "frames"), "--out", str(out),
            "--classes-out", str(tmp_path / "category.txt")]
    assert build_lists.main(args) == 0
    expected = synthetic_dataset.records("rawframes", "train")
    written = read_rawframe_list(out, data_root=synthetic_dataset.root / "frames")
    assert [(r.path, r.num_frames, r.label) for r in written] == [(r.path, r.num_frames, r.label) for r in expected]
    assert (tmp_path / "category.txt").read_text().splitlines() == synthetic_dataset.class_names
    shutil.rmtree(tmp_path / "frames_copy", ignore_errors=True)
    shutil.copytree(synthetic_dataset.root / "frames", tmp_path / "frames_copy")
    shutil.rmtree(tmp_path / "frames_copy" / synthetic_dataset.split_videos("train")[3].video_id)
    args[args.index("--frames-root") + 1] = str(tmp_path / "frames_copy")
    assert build_lists.main(args) == 1
    assert "missing or has no frames" in capsys.readouterr().err
    assert build_lists.main(args + ["--skip-missing"]) == 0
    assert len(out.read_text().splitlines()) == len(expected) - 1


def write_scores(path, scores, labels, video_ids, aggregate="mean", score="logits"):
    meter = MultiViewTestMeter(len(labels), scores.shape[1], scores.shape[2], aggregate=aggregate, score=score,
                               labels=labels, class_names=[f"c{i}" for i in range(scores.shape[2])])
    videos = np.repeat(np.arange(len(labels)), scores.shape[1])
    views = np.tile(np.arange(scores.shape[1]), len(labels))
    meter.update(scores.reshape(-1, scores.shape[2]), videos, views)
    meter.save(path.parent, video_ids=video_ids)
    return path.parent / "scores.npz"


def test_average_scores_ensembles_by_video_id(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 2, 0, 1, 2])
    ids = [f"v{i}" for i in range(6)]
    # Model A is confidently right on videos 0-3 and unsure but wrong on 4-5; model B the same on 2-5 and 0-1.
    # Each alone gets 4/6; with equal weights after softmax the confident model wins every video: 6/6.
    a = rng.normal(0, 0.1, (6, 2, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, (6, 2, 3)).astype(np.float32)
    for v in range(6):
        for scores, right in ((a, v < 4), (b, v >= 2)):
            if right:
                scores[v, :, labels[v]] += 3
            else:
                scores[v, :, (labels[v] + 1) % 3] += 1
                scores[v, :, labels[v]] += 0.5
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    file_a = write_scores(tmp_path / "a" / "x", a, labels, ids)
    order = [5, 3, 1, 0, 2, 4]  # the second run saw its videos in another order
    file_b = write_scores(tmp_path / "b" / "x", b[order], labels[order], [ids[i] for i in order], "sum", "softmax")
    status = average_scores.main([str(file_a), str(file_b), "--softmax", "--out-dir", str(tmp_path / "ens")])
    printed = capsys.readouterr().out.splitlines()
    assert status == 0
    assert "top1 66.67" in printed[0] and "top1 66.67" in printed[1]
    assert printed[2].startswith("ensemble") and "top1 100.00" in printed[2] and "mean_class_acc 100.00" in printed[2]
    with np.load(tmp_path / "ens" / "scores.npz") as saved:
        assert list(saved["video_ids"]) == ids and saved["scores"].shape == (6, 1, 3)
    assert (tmp_path / "ens" / "confusion.png").is_file()
    # Weighting model A ten times as much reproduces model A's result.
    assert average_scores.main([str(file_a), str(file_b), "--softmax", "--weights", "10", "1"]) == 0
    assert "top1 66.67" in capsys.readouterr().out.splitlines()[2]


def test_average_scores_rejects_mismatched_files(tmp_path, capsys):
    labels = np.array([0, 1])
    scores = np.zeros((2, 1, 2), np.float32)
    for name, ids, lab in (("a", ["v0", "v1"], labels), ("b", ["v0", "v9"], labels), ("c", ["v0", "v1"], labels[::-1])):
        (tmp_path / name).mkdir()
        write_scores(tmp_path / name / "x", scores, lab, ids)
    a, b, c = (str(tmp_path / n / "scores.npz") for n in "abc")
    assert average_scores.main([a, b]) == 1
    assert "b/scores.npz: its videos differ" in capsys.readouterr().err
    assert average_scores.main([a, c]) == 1
    assert "c/scores.npz: labels differ" in capsys.readouterr().err
    (tmp_path / "junk.npz").write_text("junk")
    assert average_scores.main([a, str(tmp_path / "junk.npz")]) == 1
    assert "junk.npz: cannot read" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    write_scores(tmp_path / "d" / "x", scores, labels, ["/data/v0", "/data/v1"])
    assert average_scores.main([a, str(tmp_path / "d" / "scores.npz")]) == 1
    error = capsys.readouterr().err
    assert "keys are absolute paths (e.g. '/data/v0'" in error and "relative to the videos' common folder" in error


def test_video_ids_agree_between_videos_frames_and_data_roots(synthetic_dataset, tmp_path):
    """A run on mp4s and one on frame folders of the same videos (or under another root) key videos alike."""
    videos = read_slowfast_csv(synthetic_dataset.annotation_file("slowfast_csv", "val"),
                               data_root=synthetic_dataset.root)
    frames = read_rawframe_list(synthetic_dataset.annotation_file("rawframes", "val"),
                                data_root=synthetic_dataset.root)
    moved = read_rawframe_list(synthetic_dataset.annotation_file("rawframes", "val"), data_root=tmp_path / "x")
    assert video_ids(videos) == video_ids(frames) == video_ids(moved)
    assert video_ids(videos)[0] == synthetic_dataset.split_videos("val")[0].video_id
    segments = [VideoRecord("/d/P01/P01_01", 0, None, 0, 60), VideoRecord("/d/P01/P01_01", 1, None, 60, 90)]
    assert video_ids(segments) == ["P01_01:0-60", "P01_01:60-90"]


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("tool", ["check_videos", "extract_frames", "build_lists", "reencode", "average_scores"])
def test_help_runs_as_module(tool, monkeypatch, capsys):
    """What ``python -m common.tools.<tool> --help`` runs, in this interpreter (a new one costs seconds of imports)."""
    monkeypatch.setattr(sys, "argv", [tool, "--help"])
    with pytest.raises(SystemExit) as exit_status:
        runpy.run_module(f"common.tools.{tool}", run_name="__main__", alter_sys=True)
    assert exit_status.value.code == 0
    assert f"usage: python -m common.tools.{tool}" in capsys.readouterr().out
