"""The synthetic motion dataset: files and annotations agree, and only temporal order separates the classes."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from common.data.frame_folder import FrameFolderReader
from common.data.synthetic import (ANNOTATION_FORMATS, SyntheticDataset, class_motions, main, make_synthetic_dataset,
                                   render_clip)
from common.data.video_reader import VideoReader


def horizontal_steps(clip: np.ndarray) -> np.ndarray:
    """Horizontal displacement of the moving foreground between consecutive frames, by phase correlation: [T-1]."""
    grey = clip.astype(np.float32).mean(-1)  # [T, H, W]
    spectra = np.fft.fft2(grey - np.median(grey, axis=0))  # [T, H, W], the static background removed
    cross = np.conj(spectra[:-1]) * spectra[1:]  # [T-1, H, W]
    correlation = np.fft.ifft2(cross / (np.abs(cross) + 1e-6)).real  # [T-1, H, W], peak at each step's shift
    width = clip.shape[2]
    dx = correlation.max(axis=1).argmax(axis=1)  # [T-1]
    return np.where(dx > width // 2, dx - width, dx)


def predict_order(clip: np.ndarray, num_classes: int) -> int:
    """A trivial temporal feature: the class whose leg pattern best matches the signs of the horizontal steps."""
    steps = horizontal_steps(clip)
    phase = (np.arange(len(steps)) + 0.5) / len(steps)  # [T-1], position of each step in the clip
    scores = [np.sum(m.sign * (-1.0) ** np.floor(phase * m.legs) * steps) for m in class_motions(num_classes)]
    return int(np.argmax(scores))


@pytest.fixture(scope="module")
def rendered():
    """160 in-memory clips (4 classes x 40) straight from the generator, for statistics with enough videos."""
    rng = np.random.default_rng(1)
    motions = class_motions(4)
    clips, labels = [], []
    for label in range(4):
        for _ in range(40):
            clips.append(render_clip(rng, motions[label], int(rng.integers(2)), 24, 32, 32))
            labels.append(label)
    return np.stack(clips), np.array(labels)  # [N, T, H, W, 3], [N]


def nearest_mean_accuracy(features: np.ndarray, labels: np.ndarray, train: np.ndarray) -> float:
    """Accuracy on ``~train`` of a nearest-class-mean classifier on standardised features."""
    mean, std = features[train].mean(0), features[train].std(0) + 1e-6
    features = (features - mean) / std
    centroids = np.stack([features[train & (labels == c)].mean(0) for c in np.unique(labels)])
    distances = ((features[~train, None, :] - centroids[None]) ** 2).sum(-1)
    return float((distances.argmin(1) == labels[~train]).mean())


def test_frames_and_frame_averages_carry_no_class_information(rendered):
    """What a frame-averaging model (TSN) can use: single frames, and per-frame features averaged over the clip."""
    clips, labels = rendered
    num_clips, num_frames = clips.shape[:2]
    blocks = clips.reshape(num_clips, num_frames, 8, 4, 8, 4, 3).mean((3, 5)).reshape(num_clips, num_frames, -1)
    frame_features = np.concatenate([blocks, clips.std((2, 3)), clips.mean((2, 3))], -1)  # [N, T, 198]
    train = np.arange(num_clips) % 4 != 0  # fit on 120 videos, test on 40
    frame_train = np.repeat(train, num_frames)
    frame_accuracy = nearest_mean_accuracy(frame_features.reshape(num_clips * num_frames, -1),
                                           np.repeat(labels, num_frames), frame_train)
    # The occupancy histogram of the clip: where the object went, regardless of when.
    occupancy = np.sort(blocks.std(1), axis=-1)  # [N, 192], sorted so a random start position does not matter
    average_accuracy = nearest_mean_accuracy(np.concatenate([frame_features.mean(1), occupancy], -1), labels, train)
    assert frame_accuracy < 0.4, f"per-frame accuracy {frame_accuracy:.2f}, chance is 0.25"
    assert average_accuracy < 0.4, f"clip-average accuracy {average_accuracy:.2f}, chance is 0.25"


def test_order_separates_and_shuffling_destroys_it(rendered):
    clips, labels = rendered
    ordered = np.mean([predict_order(clip, 4) == label for clip, label in zip(clips, labels)])
    rng = np.random.default_rng(0)
    shuffled = np.mean([predict_order(clip[rng.permutation(len(clip))], 4) == label
                        for clip, label in zip(clips, labels)])
    assert ordered >= 0.95, f"direction from frame order: {ordered:.2f}"
    assert shuffled < 0.45, f"direction from shuffled frames: {shuffled:.2f}, chance is 0.25"


def test_fixture_layout_and_formats_agree(synthetic_dataset: SyntheticDataset):
    dataset = synthetic_dataset
    assert dataset.num_classes == 4 and len(dataset.class_names) == 4
    assert dataset.class_names == sorted(dataset.class_names)
    assert len(dataset.split_videos("train")) == 16 and len(dataset.split_videos("val")) == 8
    for split in ("train", "val"):
        expected = [(v.video_id, v.label) for v in dataset.split_videos(split)]
        for fmt in ANNOTATION_FORMATS:
            assert dataset.annotation_file(fmt, split).is_file()
            records = dataset.records(fmt, split)
            labels = [r.label["verb"] if fmt == "epic" else r.label for r in records]
            assert labels == [label for _, label in expected], fmt
            if fmt != "epic":
                assert [r.path.rsplit("/", 1)[-1].removesuffix(".mp4") for r in records] == [i for i, _ in expected]
    assert SyntheticDataset.load(dataset.root) == dataset


def test_videos_match_frames_and_epic_segments(synthetic_dataset: SyntheticDataset):
    dataset = synthetic_dataset
    epic = dataset.records("epic", "val")
    for video, segment in zip(dataset.split_videos("val"), epic):
        with VideoReader(dataset.video_path(video.video_id)) as reader:
            assert (reader.num_frames, reader.fps, reader.gop) == (32, 25.0, 16)
            decoded = reader.read(range(32))
        frames = FrameFolderReader(dataset.frame_folder(video.video_id), dataset.frame_template).read(range(32))
        assert np.abs(decoded.astype(int) - frames).mean() < 6  # the same clip through two lossy codecs
        assert predict_order(decoded, 4) == video.label
        assert segment.num_frames == 32 and segment.end_frame - segment.start_frame == 32
        long_video = FrameFolderReader(segment.path, dataset.epic_frame_template)
        assert np.array_equal(long_video.read(range(segment.start_frame, segment.end_frame)), frames)


def test_flip_label_map_matches_mirrored_motion(synthetic_dataset: SyntheticDataset):
    names = synthetic_dataset.class_names
    assert {names[a]: names[b] for a, b in synthetic_dataset.flip_label_map.items()} == {
        "Moving something from left to right": "Moving something from right to left",
        "Moving something from right to left": "Moving something from left to right",
        "Moving something to the left and back": "Moving something to the right and back",
        "Moving something to the right and back": "Moving something to the left and back"}
    motions = class_motions(8)
    flip = SyntheticDataset("/x", 8, [m.name for m in motions], 32, 32, 32, 25, 16, ("mp4",)).flip_label_map
    assert sorted(flip) == list(range(8))
    rng = np.random.default_rng(3)
    for label, motion in enumerate(motions):
        clip = render_clip(rng, motion, 0, 32, 32, 32)
        assert predict_order(clip, 8) == label, motion.name
        assert predict_order(np.ascontiguousarray(clip[:, :, ::-1]), 8) == flip[label], motion.name


def test_generation_is_deterministic_and_validated(tmp_path):
    motion = class_motions(2)[0]
    first = render_clip(np.random.default_rng(5), motion, 1, 8, 16, 16)
    assert np.array_equal(first, render_clip(np.random.default_rng(5), motion, 1, 8, 16, 16))
    with pytest.raises(ValueError, match="even"):
        make_synthetic_dataset(tmp_path, height=63)
    with pytest.raises(ValueError, match="num_classes"):
        make_synthetic_dataset(tmp_path, num_classes=17)
    with pytest.raises(ValueError, match="formats"):
        make_synthetic_dataset(tmp_path, formats=("avi",))


def test_cli_writes_and_reports(tmp_path, capsys):
    main(["--out", str(tmp_path / "cli"), "--num-classes", "2", "--videos-per-class", "2", "--num-frames", "8",
          "--height", "32", "--width", "32", "--formats", "mp4", "--gop", "4"])
    printed = capsys.readouterr().out
    assert "2 classes, 2 train / 2 val videos" in printed and "GOP 4" in printed
    dataset = SyntheticDataset.load(tmp_path / "cli")
    assert sorted(p.name for p in (tmp_path / "cli" / "videos").iterdir()) == [f"{i:06d}.mp4" for i in range(4)]
    assert not (tmp_path / "cli" / "frames").exists() and dataset.formats == ("mp4",)
    with VideoReader(dataset.video_path("000003")) as reader:
        assert reader.gop == 4 and reader.num_frames == 8
