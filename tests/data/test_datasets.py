"""VideoClipDataset on the synthetic clips: train/test items, determinism, loaders, and every bad input."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from common.data.annotations import VideoRecord
from common.data.datasets import BadSamplePolicy, SampleLoadError, VideoClipDataset, collate_views
from common.data.frame_folder import FrameFolderReader
from common.data.loader import build_loader
from common.engine.multiview import IncompleteTestError, MultiViewTestMeter
from common.data.samplers import SlowFastClipSampler, TSNSegmentSampler
from common.data.transforms import (Compose, RandomCrop, RandomHorizontalFlip, ShortSideResize, TestCrop,
                                    label_swap_map_from_names)

TRAIN_TRANSFORM = Compose([RandomCrop(48), RandomHorizontalFlip()])


def test_crop(crop_index: int) -> Compose:
    return Compose([ShortSideResize(64), TestCrop(48, 3, crop_index)])


test_crop.__test__ = False  # a factory, not a test


@pytest.fixture(scope="module")
def bad_files(synthetic_dataset, tmp_path_factory) -> dict[str, Path]:
    """A zero-byte video, a truncated video, a missing folder and a folder missing one frame."""
    root = tmp_path_factory.mktemp("bad")
    video = next(iter(synthetic_dataset.records("slowfast_csv", "val"))).path
    folder = Path(synthetic_dataset.records("rawframes", "val")[0].path)
    (root / "empty.mp4").write_bytes(b"")
    (root / "truncated.mp4").write_bytes(Path(video).read_bytes()[:400])
    holey = root / "holey"
    shutil.copytree(folder, holey)
    (holey / "img_00019.jpg").unlink()  # 0-based frame 18: a segment centre of a 32-frame, 8-segment clip
    return {"empty": root / "empty.mp4", "truncated": root / "truncated.mp4", "missing": root / "no_such_folder",
            "holey": holey}


def video_records(synthetic_dataset, count: int = 4) -> list[VideoRecord]:
    return synthetic_dataset.records("slowfast_csv", "val")[:count]


def test_train_items_are_deterministic_per_seed_epoch_index(synthetic_dataset) -> None:
    dataset = VideoClipDataset(video_records(synthetic_dataset), SlowFastClipSampler(8, 2, target_fps=None),
                               TRAIN_TRANSFORM, seed=3)
    item = dataset[1]
    assert item["clip"].shape == (3, 8, 48, 48) and item["clip"].dtype == torch.uint8
    assert item["video_index"] == 1 and item["view_index"] == 0 and item["label"] == dataset.records[1].label
    assert torch.equal(dataset[1]["clip"], item["clip"])
    assert torch.equal(dataset[(0, 1)]["clip"], item["clip"])  # (epoch, index) from the loader's sampler
    epochs = [dataset[(epoch, 1)]["clip"] for epoch in range(1, 4)]
    assert any(not torch.equal(clip, item["clip"]) for clip in epochs)


def test_test_views_expand_and_match_the_reader(synthetic_dataset) -> None:
    records = synthetic_dataset.records("rawframes", "val")[:3]
    sampler = TSNSegmentSampler(8, twice_sample=True)
    dataset = VideoClipDataset(records, sampler, mode="test", num_crops=3, reader="frames",
                               frame_template=synthetic_dataset.frame_template, test_transform_for_crop=test_crop)
    assert dataset.num_views == 6 and len(dataset) == 18
    item = dataset[10]  # video 1, view 4 = clip 1, crop 1
    assert (item["video_index"], item["view_index"]) == (1, 4)
    frames = FrameFolderReader(records[1].path, synthetic_dataset.frame_template).read(sampler.test_indices(32, 1))
    expected = torch.from_numpy(frames).permute(3, 0, 1, 2)[..., 8:56, 8:56]  # [3, T, H, W], centre crop of 64x64
    assert torch.equal(item["clip"], expected)


def test_label_swap_map_agrees_with_the_synthetic_classes(synthetic_dataset) -> None:
    assert label_swap_map_from_names(synthetic_dataset.class_names) == synthetic_dataset.flip_label_map
    assert len(synthetic_dataset.flip_label_map) == 4


def test_epic_segments_keep_dict_labels(synthetic_dataset) -> None:
    records = synthetic_dataset.records("epic", "val")[:2]
    dataset = VideoClipDataset(records, TSNSegmentSampler(4), TRAIN_TRANSFORM, reader="frames",
                               frame_template=synthetic_dataset.epic_frame_template)
    item = dataset[0]
    assert set(item["label"]) == {"verb", "noun"} and item["clip"].shape == (3, 4, 48, 48)


def test_test_mode_failure_names_file_and_view(synthetic_dataset, bad_files) -> None:
    for name in ("empty", "truncated", "missing", "holey"):
        record = VideoRecord(str(bad_files[name]), 0, 32 if name == "holey" else None, source="list.txt:7")
        reader = "video" if name in ("empty", "truncated") else "frames"
        dataset = VideoClipDataset([record], TSNSegmentSampler(8), mode="test", reader=reader)
        with pytest.raises(SampleLoadError, match=rf"{bad_files[name].name}.*list.txt:7.*video 0 view 0"):
            dataset[0]


def test_reported_missing_view_reaches_the_meter(synthetic_dataset, bad_files) -> None:
    records = [video_records(synthetic_dataset, 1)[0], VideoRecord(str(bad_files["empty"]), 1)]
    dataset = VideoClipDataset(records, TSNSegmentSampler(8), ShortSideResize(48), mode="test",
                               policy=BadSamplePolicy(test_failure="report"))
    batch = collate_views([dataset[0], dataset[1]])
    assert batch["clip"].shape[0] == 1 and len(batch["missing_views"]) == 1
    meter = MultiViewTestMeter(2, 1, 4, labels=[r.label for r in records])
    meter.update(torch.zeros(1, 4), batch["video_index"], batch["view_index"])
    for video, view, message in batch["missing_views"]:
        meter.report_missing(video, view, message)
    with pytest.raises(IncompleteTestError, match="empty.mp4"):
        meter.finalize()


def test_train_policy_replaces_and_counts_bad_samples(synthetic_dataset, bad_files, caplog) -> None:
    good = video_records(synthetic_dataset, 3)
    records = [VideoRecord(str(bad_files["truncated"]), 0)] + good
    dataset = VideoClipDataset(records, TSNSegmentSampler(8), TRAIN_TRANSFORM,
                               policy=BadSamplePolicy(max_fail_fraction=0.5))
    with caplog.at_level(logging.WARNING, logger="common.data.datasets"):
        item = dataset[0]
    assert item["video_index"] in (1, 2, 3) and dataset.failures == 1
    assert "truncated.mp4" in caplog.text


def test_train_items_carry_their_failures_and_retries_are_bounded(bad_files, synthetic_dataset) -> None:
    bad = [VideoRecord(str(bad_files[name]), 0, source=f"list.csv:{n}") for n, name in enumerate(("empty", "truncated"))]
    good = video_records(synthetic_dataset, 2)
    dataset = VideoClipDataset(bad + good * 20, TSNSegmentSampler(8), policy=BadSamplePolicy(max_retries=50))
    carried = dataset[0]["bad_samples"].split("\n")  # the fraction is the trainer's (common.engine.bad_samples)
    assert carried[0].startswith(f"{bad_files['empty']} (list.csv:0): ") and "empty file" in carried[0]
    assert dataset[2]["bad_samples"] == ""
    hopeless = VideoClipDataset(bad, TSNSegmentSampler(8), policy=BadSamplePolicy(max_retries=2, max_fail_fraction=1))
    with pytest.raises(SampleLoadError, match="3 samples in a row failed"):
        hopeless[0]


def test_loader_results_do_not_depend_on_workers(synthetic_dataset) -> None:
    dataset = VideoClipDataset(video_records(synthetic_dataset), SlowFastClipSampler(4, 4, target_fps=None),
                               TRAIN_TRANSFORM, seed=1)
    batches = {}
    for workers in (0, 2):
        loader = build_loader(dataset, 2, train=True, num_workers=workers, seed=5, rank=0, world_size=1)
        loader.sampler.set_epoch(1)
        batches[workers] = [(b["clip"], b["video_index"]) for b in loader]
    assert len(batches[0]) == 2
    for (clip0, index0), (clip2, index2) in zip(batches[0], batches[2]):
        assert torch.equal(clip0, clip2) and torch.equal(index0, index2)


def test_two_worker_loader_raises_instead_of_hanging(bad_files, synthetic_dataset) -> None:
    records = video_records(synthetic_dataset, 3) + [VideoRecord(str(bad_files["truncated"]), 0)]
    dataset = VideoClipDataset(records, TSNSegmentSampler(4), ShortSideResize(48), mode="test")
    loader = build_loader(dataset, 2, train=False, num_workers=2, timeout=120, rank=0, world_size=1)
    with pytest.raises(SampleLoadError, match="truncated.mp4"):
        list(loader)


def test_test_sharding_is_even_and_without_duplicates(synthetic_dataset) -> None:
    dataset = VideoClipDataset(video_records(synthetic_dataset, 3), SlowFastClipSampler(4, 2, num_test_clips=5), mode="test")
    shares = [list(build_loader(dataset, 4, train=False, num_workers=0, rank=r, world_size=2).sampler)
              for r in range(2)]
    indices = [index for share in shares for _, index in share]
    assert sorted(indices) == list(range(15)) and abs(len(shares[0]) - len(shares[1])) <= 1


def test_bad_arguments_are_rejected(synthetic_dataset) -> None:
    records = video_records(synthetic_dataset, 1)
    with pytest.raises(ValueError, match="test_transform_for_crop"):
        VideoClipDataset(records, TSNSegmentSampler(8), mode="test", num_crops=3)
    with pytest.raises(ValueError, match="no records"):
        VideoClipDataset([], TSNSegmentSampler(8))
    too_small = VideoClipDataset(records, TSNSegmentSampler(8), RandomCrop(100))
    with pytest.raises(SampleLoadError, match=Path(records[0].path).name):
        too_small[0]


def test_frame_folder_fps_drives_target_fps_resampling(synthetic_dataset, tmp_path) -> None:
    """A folder without fps.txt cannot be resampled to a target fps: the sampler refuses instead of silently
    sampling another span; with fps.txt (25 fps here, target 30) the span is 4 * 2 / 30 * 25 = 6.67 frames."""
    record = synthetic_dataset.records("rawframes", "val")[0]
    folder = tmp_path / "clip"
    shutil.copytree(record.path, folder)
    dataset = VideoClipDataset([VideoRecord(str(folder), 0, 32)], SlowFastClipSampler(4, 2, num_test_clips=1),
                               mode="test", reader="frames")
    with pytest.raises(ValueError, match="fps is unknown"):
        dataset[0]
    (folder / "fps.txt").write_text("25\n")
    assert FrameFolderReader(folder).fps == 25.0
    # delta = 32 - 6.67 = 25.33, one view: start 0, linspace(0, 5.67, 4) -> frames 0, 1, 3, 5.
    expected = FrameFolderReader(folder).read([0, 1, 3, 5])  # [4, H, W, 3]
    assert torch.equal(dataset[0]["clip"], torch.from_numpy(expected).permute(3, 0, 1, 2))
