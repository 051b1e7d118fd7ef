"""`VideoReader` against a single-threaded full decode on every container and codec PyAV can write here.

The corpus (`common.data.video_corpus`) is generated at test time: mp4, mkv, avi, ts, mpg, webm; H.264, HEVC, MPEG-2,
MPEG-4, VP9, MJPEG; B-frames, open GOPs, edit lists, variable frame rate, truncation. Every file is read at sparse,
dense, unsorted and duplicate index sets and one frame at a time, and must equal the full decode pixel for pixel,
with ``num_frames`` equal to the number of frames the decode yields.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from common.data import frame_index
from common.data import video_corpus as corpus
from common.data.video_reader import VideoReader

pytestmark = pytest.mark.usefixtures("no_hang")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corpus")


_made: dict[str, tuple[Path, np.ndarray]] = {}


def video(corpus_dir: Path, name: str) -> tuple[Path, np.ndarray]:
    """The corpus file ``name`` (written on first use) and its full decode."""
    if name not in _made:
        case = next(case for case in corpus.CASES if case.name == name)
        reason = corpus.missing_encoder(case)
        if reason:
            pytest.skip(reason)
        path = corpus.make(corpus_dir, case)
        _made[name] = path, corpus.full_decode(path)
    return _made[name]


INDEX_SETS = {
    "sparse": lambda n: (np.arange(8) * n // 8 + n // 16).tolist(),  # TSN segment centres
    "dense": lambda n: list(range(n // 3, n // 3 + 16)),
    "unsorted": lambda n: [n - 1, 0, n // 2, 3, n // 2 + 1, 1, n - 2],
    "duplicates": lambda n: [5, 5, 0, 5, n - 1, n - 1, 0, n // 2, n // 2],
}


@pytest.mark.parametrize("name", [case.name for case in corpus.CASES])
def test_reads_equal_full_decode(corpus_dir, name):
    path, reference = video(corpus_dir, name)
    with VideoReader(path) as reader:
        assert reader.num_frames == len(reference), f"{name}: num_frames is not the decoded frame count"
        assert (reader.height, reader.width) == reference.shape[1:3]
        for set_name, make in INDEX_SETS.items():
            indices = [index % len(reference) for index in make(len(reference))]  # 1- and 2-frame files too
            assert np.array_equal(reader.read(indices), reference[indices]), f"{name}: {set_name} read differs"
    with VideoReader(path) as reader:  # one frame per read: every read seeks afresh
        for index in range(len(reference)):
            assert np.array_equal(reader.read([index])[0], reference[index]), f"{name}: frame {index} differs"


def test_edit_list_cut_counts_decoded_frames(corpus_dir):
    """A stream-copied cut (pts and dts moved 5 frames earlier): the 5 frames before the cut are decoded only as
    references, so 85 of the 90 packets are frames, and frame 0 is the first frame after the cut."""
    path, reference = video(corpus_dir, "mp4_h264_edit_list")
    assert len(reference) == 85
    with VideoReader(path) as reader:
        assert reader.num_frames == 85
        assert np.array_equal(reader.read([0, 1, 4, 5, 84]), reference[[0, 1, 4, 5, 84]])


def test_mpegts_tsn_read_and_last_gop(corpus_dir):
    path, reference = video(corpus_dir, "ts_h264_gop20")
    tsn = [6, 18, 31, 43, 56, 68, 81, 93]  # TSN centres of 100 frames in 8 segments
    with VideoReader(path) as reader:
        assert np.array_equal(reader.read(tsn), reference[tsn])
        assert np.array_equal(reader.read([99, 80]), reference[[99, 80]])


def test_mpeg2_program_stream_single_reads(corpus_dir):
    path, reference = video(corpus_dir, "mpg_mpeg2_gop12")
    with VideoReader(path) as reader:
        for index in (12, 15, 18, 59):
            assert np.array_equal(reader.read([index])[0], reference[index])


def test_seek_that_lands_late_is_retried_from_the_previous_keyframe(corpus_dir):
    """MPEG-TS lands a GOP late when asked for a keyframe's pts: force that target and the reads must stay exact
    through the retry, without giving up seeking."""
    path, reference = video(corpus_dir, "ts_h264_gop20")
    with VideoReader(path) as reader:
        index = reader._index
        assert index.source == "decoded" and not np.array_equal(index.key_seek, index.key_pts)
        reader._index = replace(index, key_seek=index.key_pts)
        indices = [25, 61, 99, 3]
        assert np.array_equal(reader.read(indices), reference[indices])
        assert not reader._index.sequential


def test_damaged_frame_falls_back_to_decoding_from_the_start(corpus_dir, caplog):
    """The partial last packet of a truncated MPEG-TS decodes to other pixels after a seek than in a full decode;
    the checksum catches it and the reader decodes from the start instead of returning the other frame."""
    path, reference = video(corpus_dir, "ts_h264_truncated")
    frame_index._index_cache.clear()
    with VideoReader(path) as reader, caplog.at_level(logging.WARNING):
        last = reader.num_frames - 1
        assert np.array_equal(reader.read([last])[0], reference[last])
        assert reader._index.sequential
        assert any("decoding this file from the start" in message for message in caplog.messages)
        assert np.array_equal(reader.read([0, last]), reference[[0, last]])


def test_index_kinds(corpus_dir):
    """mp4/Matroska/WebM come from the packets alone (no decoding at open); TS is indexed by a decode; MPEG-PS
    reads sequentially."""
    expected = {"mp4_h264_bframes": "demuxed", "mp4_h264_edit_list": "demuxed", "webm_vp9": "demuxed",
                "ts_h264_gop20": "decoded", "avi_mpeg4_bframes": "decoded", "mpg_mpeg2_gop12": "sequential"}
    frame_index._index_cache.clear()
    for name, source in expected.items():
        path, _ = video(corpus_dir, name)
        with VideoReader(path) as reader:
            assert reader._index.source == source, name
