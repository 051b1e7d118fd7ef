"""build_lists from UCF101's and HMDB51's official split files: 0-based labels, checks that name the line."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.data import annotations as ann
from common.tools import build_lists


def _ucf_files(root: Path) -> Path:
    splits = root / "ucfTrainTestlist"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n3 YoYo\n")
    (splits / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nHandstandPushups/v_HandStandPushups_g08_c01.avi 2\n"
        "YoYo/v_YoYo_g25_c05.avi 3\n")
    (splits / "testlist01.txt").write_text("HandstandPushups/v_HandStandPushups_g01_c01.avi\nYoYo/v_YoYo_g01_c01.avi\n")
    return splits


def test_ucf101_lists_have_zero_based_labels(tmp_path: Path) -> None:
    splits = _ucf_files(tmp_path)
    assert build_lists.main(["ucf101", "--labels", str(splits / "classInd.txt"), "--split",
                             str(splits / "trainlist01.txt"), "--out", str(tmp_path / "train.csv"),
                             "--classes-out", str(tmp_path / "classes.txt")]) == 0
    records = ann.read_slowfast_csv(tmp_path / "train.csv")
    assert [(r.path, r.label) for r in records] == [("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0),
                                                    ("HandstandPushups/v_HandStandPushups_g08_c01.avi", 1),
                                                    ("YoYo/v_YoYo_g25_c05.avi", 2)]
    assert ann.read_class_names(tmp_path / "classes.txt") == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    items, _ = build_lists.read_ucf101_split(splits / "classInd.txt", splits / "testlist01.txt")
    assert items == [("HandstandPushups/v_HandStandPushups_g01_c01.avi", 1), ("YoYo/v_YoYo_g01_c01.avi", 2)]


def test_ucf101_frame_folders_and_errors(tmp_path: Path) -> None:
    splits = _ucf_files(tmp_path)
    frames = tmp_path / "frames" / "YoYo" / "v_YoYo_g01_c01"
    frames.mkdir(parents=True)
    for index in range(1, 4):
        (frames / f"img_{index:05d}.jpg").write_bytes(b"")
    assert build_lists.main(["ucf101", "--labels", str(splits / "classInd.txt"), "--split",
                             str(splits / "testlist01.txt"), "--format", "rawframes", "--frames-root",
                             str(tmp_path / "frames"), "--skip-missing", "--out", str(tmp_path / "t.txt")]) == 0
    assert (tmp_path / "t.txt").read_text() == "YoYo/v_YoYo_g01_c01 3 2\n"
    (splits / "bad.txt").write_text("YoYo/v_YoYo_g01_c01.avi 2\n")
    with pytest.raises(ann.AnnotationError, match=r"bad.txt:1: class id 2 disagrees with the folder 'YoYo'"):
        build_lists.read_ucf101_split(splits / "classInd.txt", splits / "bad.txt")
    (splits / "classInd0.txt").write_text("0 ApplyEyeMakeup\n")
    with pytest.raises(ann.AnnotationError, match=r"classInd0.txt:1: expected '1 <class name>'"):
        build_lists.read_ucf101_split(splits / "classInd0.txt", splits / "testlist01.txt")


def test_hmdb51_splits(tmp_path: Path) -> None:
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (splits / "wave_test_split1.txt").write_text("w1.avi 1 \nw2.avi 2 \nw3.avi 0 \n")
    (splits / "brush_hair_test_split1.txt").write_text("b1.avi 2 \nb2.avi 1 \n")
    (splits / "brush_hair_test_split2.txt").write_text("b1.avi 1 \n")
    assert build_lists.main(["hmdb51", "--split", str(splits), "--split-id", "1", "--subset", "test",
                             "--out", str(tmp_path / "test.csv")]) == 0
    assert (tmp_path / "test.csv").read_text() == "brush_hair/b1.avi 0\nwave/w2.avi 1\n"
    items, names = build_lists.read_hmdb51_split(splits, 1, "train")
    assert items == [("brush_hair/b2.avi", 0), ("wave/w1.avi", 1)] and names == ["brush_hair", "wave"]
    assert build_lists.main(["hmdb51", "--split", str(splits), "--split-id", "3", "--out",
                             str(tmp_path / "x.csv")]) == 1  # no files for split 3: an error, not an empty list
