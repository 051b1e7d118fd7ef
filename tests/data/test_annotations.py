"""Annotation readers on hand-written files in every format, and their `file:line:` errors."""
from __future__ import annotations

import json

import pytest

from common.data.annotations import (AnnotationError, VideoRecord, read_class_names, read_epic100, read_jester,
                                     read_rawframe_list, read_slowfast_csv, read_ssv2, read_sthv1)


def write(path, text: str):
    path.write_text(text)
    return path


def test_slowfast_csv_paths_labels_and_sources(tmp_path):
    file = write(tmp_path / "train.csv", "abseiling/a.mp4 0\n\n/abs/b.mp4 3\n")
    records = read_slowfast_csv(file, data_root="/data/k400", num_classes=4)
    assert records == [
        VideoRecord("/data/k400/abseiling/a.mp4", 0, source=f"{file}:1"),
        VideoRecord("/abs/b.mp4", 3, source=f"{file}:3"),  # absolute paths ignore the root; blank lines skipped
    ]
    file = write(tmp_path / "comma.csv", "a.mp4,1\n")
    assert read_slowfast_csv(file, separator=",")[0] == VideoRecord("a.mp4", 1, source=f"{file}:1")


@pytest.mark.parametrize("line, message", [
    ("a.mp4 1 extra", "expected 2 fields"),
    ("a.mp4", "expected 2 fields"),
    ("a.mp4 one", "label 'one' is not an integer"),
    ("a.mp4 4", r"label 4 outside \[0, 4\)"),
    ("a.mp4 -1", "label -1 outside"),
])
def test_slowfast_csv_errors_name_file_and_line(tmp_path, line, message):
    file = write(tmp_path / "bad.csv", f"ok.mp4 0\n{line}\n")
    with pytest.raises(AnnotationError, match=message) as error:
        read_slowfast_csv(file, num_classes=4)
    assert str(error.value).startswith(f"{file}:2: ")
    assert error.value.line == 2


def test_rawframe_list(tmp_path):
    file = write(tmp_path / "list.txt", "1234 48 7\nclass_a/vid 300 0\n")
    records = read_rawframe_list(file, data_root="/frames", num_classes=174)
    assert records[0] == VideoRecord("/frames/1234", 7, 48, source=f"{file}:1")
    assert records[1].path == "/frames/class_a/vid" and records[1].num_frames == 300


def test_rawframe_list_errors_and_empty_rows(tmp_path):
    file = write(tmp_path / "list.txt", "a 10 1\nb 0 1\nc 5 2\n")
    with pytest.warns(UserWarning, match="dropped 1 rows"):
        assert [r.path for r in read_rawframe_list(file)] == ["a", "c"]
    with pytest.raises(AnnotationError, match=r":2: num_frames 0 < 1"):
        read_rawframe_list(file, drop_empty=False)
    with pytest.raises(AnnotationError, match=r":3: label 2 outside \[0, 2\)"):
        read_rawframe_list(file, num_classes=2)
    file = write(tmp_path / "short.txt", "a 10 1\nb 10\n")
    with pytest.raises(AnnotationError, match=r"short.txt:2: expected 3 fields"):
        read_rawframe_list(file)
    file = write(tmp_path / "tabs.txt", "a\t10\t1\n")
    with pytest.raises(AnnotationError, match=r"tabs.txt:1: expected 3 fields"):
        read_rawframe_list(file)


SSV2_LABELS = {"Holding something": "0", "Pushing something from left to right": "1",
               "Putting something on a surface": "2"}


def test_ssv2_json_removes_placeholder_brackets(tmp_path):
    labels = write(tmp_path / "labels.json", json.dumps(SSV2_LABELS))
    entries = [{"id": "78687", "label": "pushing a cup from left to right",
                "template": "Pushing [something] from left to right", "placeholders": ["a cup"]},
               {"id": "42326", "label": "holding a pen", "template": "Holding [something]", "placeholders": ["pen"]}]
    split = write(tmp_path / "train.json", json.dumps(entries, indent=1))
    records = read_ssv2(labels, split, data_root="/ssv2", path_template="{id}.webm")
    assert [(r.path, r.label) for r in records] == [("/ssv2/78687.webm", 1), ("/ssv2/42326.webm", 0)]
    assert records[1].source == f"{split}:11"  # the line of the entry's id in the pretty-printed file


def test_ssv2_errors(tmp_path):
    labels = write(tmp_path / "labels.json", json.dumps(SSV2_LABELS))
    entries = [{"id": "1", "template": "Holding [something]"},
               {"id": "2", "template": "Dancing with [something]"}]
    split = write(tmp_path / "train.json", "[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]")
    with pytest.raises(AnnotationError, match=r"train.json:3: entry 1: template 'Dancing with something' is not"):
        read_ssv2(labels, split)
    one = write(tmp_path / "one.json", '[\n{"id": "5", "template": "Putting [something] on a surface"}\n]')
    with pytest.raises(AnnotationError, match=r"one.json:2: label 2 outside \[0, 2\)"):
        read_ssv2(labels, one, num_classes=2)
    with pytest.raises(AnnotationError, match="lacks 'id' or 'template'"):
        read_ssv2(labels, write(tmp_path / "noid.json", '[{"template": "Holding [something]"}]'))
    with pytest.raises(AnnotationError, match=r"broken.json:2: invalid json"):
        read_ssv2(labels, write(tmp_path / "broken.json", '[\n{"id": }\n]'))


def test_sthv1_sorts_categories_like_tsm(tmp_path):
    categories = write(tmp_path / "labels.csv", "Zooming in\nApproaching something\nMoving something\n")
    split = write(tmp_path / "train.csv", "100;Moving something\n101;Zooming in\n102;Approaching something\n")
    records = read_sthv1(categories, split, data_root="/sthv1")
    assert [(r.path, r.label) for r in records] == [("/sthv1/100", 1), ("/sthv1/101", 2), ("/sthv1/102", 0)]
    bad = write(tmp_path / "bad.csv", "100;Moving something\n101;Flying\n")
    with pytest.raises(AnnotationError, match=r"bad.csv:2: category 'Flying' is not in"):
        read_sthv1(categories, bad)
    bad = write(tmp_path / "bad2.csv", "100 Moving something\n")
    with pytest.raises(AnnotationError, match=r"bad2.csv:1: expected 2 fields 'id;category'"):
        read_sthv1(categories, bad)


def test_jester_keeps_file_order(tmp_path):
    categories = write(tmp_path / "jester-v1-labels.csv", "Swiping Left\nSwiping Right\nDoing other things\n")
    split = write(tmp_path / "jester-v1-train.csv", "34870;Swiping Right\n56557;Doing other things\n")
    assert [r.label for r in read_jester(categories, split)] == [1, 2]
    assert [r.label for r in read_jester(categories, split, sort_categories=True)] == [2, 0]
    with pytest.raises(AnnotationError, match=r"jester-v1-train.csv:2: label 2 outside \[0, 2\)"):
        read_jester(categories, split, num_classes=2)


EPIC_HEADER = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,"
               "start_frame,stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes\n")


def test_epic100_segments_and_dict_labels(tmp_path):
    file = write(tmp_path / "EPIC_100_train.csv", EPIC_HEADER +
                 'P01_01_0,P01,P01_01,00:00:00.000,00:00:00.14,00:00:03.37,8,202,"open door, slowly",open,3,door,8,'
                 "['door'],[8]\n")
    (record,) = read_epic100(file, data_root="/epic")
    assert record == VideoRecord("/epic/P01/rgb_frames/P01_01", {"verb": 3, "noun": 8}, 195, 7, 202,
                                 source=f"{file}:2")


@pytest.mark.parametrize("row, message", [
    ("P01_01_0,P01,P01_01,0,0,0,8,202,x,open,97,door,8,[],[]", r":2: verb_class 97 outside \[0, 97\)"),
    ("P01_01_0,P01,P01_01,0,0,0,8,202,x,open,3,door,300,[],[]", r":2: noun_class 300 outside \[0, 300\)"),
    ("P01_01_0,P01,P01_01,0,0,0,210,202,x,open,3,door,8,[],[]", r":2: bad frame range"),
    ("P01_01_0,P01,P01_01,0,0,0,eight,202,x,open,3,door,8,[],[]", r":2: start_frame 'eight' is not an integer"),
    ("P01_01_0,P01,P01_01,0,0,0,8,202", r":2: expected 15 fields"),
])
def test_epic100_errors(tmp_path, row, message):
    file = write(tmp_path / "epic.csv", EPIC_HEADER + row + "\n")
    with pytest.raises(AnnotationError, match=message):
        read_epic100(file)


def test_epic100_missing_columns(tmp_path):
    file = write(tmp_path / "test.csv", "narration_id,participant_id,video_id,start_frame,stop_frame\n")
    with pytest.raises(AnnotationError, match=r"test.csv:1: header lacks EPIC-100 columns \['verb_class'"):
        read_epic100(file)


def test_class_names(tmp_path):
    assert read_class_names(write(tmp_path / "category.txt", "b\na\n\nc\n")) == ["b", "a", "c"]
    assert read_class_names(write(tmp_path / "labels.json", json.dumps(SSV2_LABELS)))[1] == \
        "Pushing something from left to right"
    with pytest.raises(AnnotationError, match="not 0..N-1"):
        read_class_names(write(tmp_path / "gap.json", '{"a": "0", "b": "2"}'))


def test_missing_files_are_named(tmp_path):
    for call in (lambda p: read_slowfast_csv(p), lambda p: read_epic100(p), lambda p: read_ssv2(p, p)):
        with pytest.raises(FileNotFoundError, match="missing.csv: annotation file does not exist"):
            call(tmp_path / "missing.csv")
