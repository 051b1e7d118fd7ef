"""Lists as other tools and editors write them: a BOM, no entries, class names with spaces, bad labels, and videos
corrupt in the middle of the stream."""
from __future__ import annotations

import shutil

import av
import pytest

from common.data.annotations import AnnotationError, read_rawframe_list, read_slowfast_csv, read_sthv1
from common.data.frame_folder import FrameFolderReader
from common.data.video_writer import write_h264
from common.tools import build_lists, check_videos


def test_a_utf8_bom_is_not_part_of_the_first_path(tmp_path):
    listing = tmp_path / "train.csv"
    listing.write_bytes("\ufeffvideos/a.mp4 1\nvideos/b.mp4 0\n".encode("utf-8"))
    records = read_slowfast_csv(listing, data_root="/data")
    assert records[0].path == "/data/videos/a.mp4"
    frames = tmp_path / "frames.txt"
    frames.write_bytes(b"\xef\xbb\xbffolder_a 32 1\n")
    assert read_rawframe_list(frames)[0].path == "folder_a"
    categories, split = tmp_path / "categories.csv", tmp_path / "split.csv"
    categories.write_bytes("\ufeffHolding something\nPushing something\n".encode("utf-8"))
    split.write_bytes("\ufeff7;Pushing something\n".encode("utf-8"))
    assert [(r.path, r.label) for r in read_sthv1(categories, split)] == [("7", 1)]


@pytest.mark.parametrize("content", ["", "\n  \n\t\n", "\ufeff\n"])
def test_a_list_without_entries_names_the_file_and_what_it_needs(tmp_path, content):
    listing = tmp_path / "val.csv"
    listing.write_text(content, encoding="utf-8")
    with pytest.raises(AnnotationError, match=r"val.csv:1: no entries .*one line per video.*build_lists"):
        read_slowfast_csv(listing)
    with pytest.raises(AnnotationError, match=r"val.csv:1: no entries"):
        read_rawframe_list(listing)


def test_class_folders_with_spaces_round_trip_through_build_lists(synthetic_dataset, tmp_path):
    assert any(" " in name for name in synthetic_dataset.class_names)  # e.g. "moving left"
    tree, frames = tmp_path / "tree", tmp_path / "frames"
    for video in synthetic_dataset.split_videos("val"):
        name = synthetic_dataset.class_names[video.label]
        (tree / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(synthetic_dataset.video_path(video.video_id), tree / name / f"{video.video_id}.mp4")
        shutil.copytree(synthetic_dataset.frame_folder(video.video_id), frames / name / video.video_id)
    expected = [v.label for v in synthetic_dataset.split_videos("val")]
    assert build_lists.main(["folders", str(tree), "--out", str(tmp_path / "val.csv"),
                             "--classes-out", str(tmp_path / "classes.txt")]) == 0
    records = read_slowfast_csv(tmp_path / "val.csv", data_root=tree, num_classes=4)
    assert [r.label for r in records] == expected and any(" " in r.path for r in records)
    assert all((tree / r.path).is_file() for r in records)
    assert build_lists.main(["folders", str(frames), "--format", "rawframes", "--out", str(tmp_path / "frames.txt"),
                             "--classes", str(tmp_path / "classes.txt")]) == 0
    folders = read_rawframe_list(tmp_path / "frames.txt", data_root=frames)
    assert [r.label for r in folders] == expected and all((frames / r.path).is_dir() for r in folders)
    # A separator no path contains needs no quotes (what PySlowFast's own reader wants), read back the same way.
    assert build_lists.main(["folders", str(tree), "--separator", ",", "--out", str(tmp_path / "comma.csv")]) == 0
    assert '"' not in (tmp_path / "comma.csv").read_text()
    assert [r.path for r in read_slowfast_csv(tmp_path / "comma.csv", separator=",")] == [
        r.path for r in read_slowfast_csv(tmp_path / "val.csv")]
    unquoted = tmp_path / "unquoted.csv"
    unquoted.write_text("moving left/a.mp4 1\n")
    with pytest.raises(AnnotationError, match=r"unquoted.csv:1: expected 2 fields .*double quotes"):
        read_slowfast_csv(unquoted)


def _corrupt_middle_keyframe(source, target) -> None:
    """Zero the packet of the second keyframe: the first and last frames still decode, the middle does not."""
    with av.open(str(source)) as container:
        keyframes = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size and p.is_keyframe]
    position, size = keyframes[1]
    data = bytearray(source.read_bytes())
    data[position + 8: position + size] = bytes(size - 8)
    target.write_bytes(bytes(data))


def test_check_videos_decodes_every_frame_by_default_and_validates_labels(synthetic_dataset, tmp_path, capsys):
    video = synthetic_dataset.split_videos("val")[0]
    good, corrupt = tmp_path / "good.mp4", tmp_path / "videos" / "mid stream.mp4"
    write_h264(good, FrameFolderReader(synthetic_dataset.frame_folder(video.video_id)).read(range(32)), fps=25, gop=8)
    corrupt.parent.mkdir()
    _corrupt_middle_keyframe(good, corrupt)  # frames 8..15 of 32 lost; 0 and 31 decode
    listing = tmp_path / "list.csv"
    listing.write_text('"videos/mid stream.mp4" 3\n')
    report = tmp_path / "report.csv"
    assert check_videos.main(["--list", str(listing), "--data-root", str(tmp_path), "--report", str(report)]) == 1
    assert "error: " in capsys.readouterr().err and "mid stream.mp4" in report.read_text()
    assert check_videos.main(["--list", str(listing), "--data-root", str(tmp_path), "--report", str(report),
                              "--decode", "ends"]) == 0  # why ends is not the recommended mode
    assert check_videos.main(["--list", str(listing), "--data-root", str(tmp_path), "--report", str(report),
                              "--num-classes", "3"]) == 2
    assert "list.csv:1: label 3 outside [0, 3)" in capsys.readouterr().err
