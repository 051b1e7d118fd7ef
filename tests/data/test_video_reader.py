"""`VideoReader` against a plain full decode, its seek rule, and every bad file it must reject by name."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from common.data import frame_index
from common.data.video_writer import write_h264
from common.data.video_reader import VideoDecodeError, VideoReader

pytestmark = pytest.mark.usefixtures("no_hang")


def moving_clip(num_frames: int, height: int = 32, width: int = 48, seed: int = 0) -> np.ndarray:
    """A textured pattern drifting right with noise, so every frame differs: uint8 [T, H, W, 3]."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, size=(height, width * 2, 3)).astype(np.float32)
    frames = [np.roll(texture, 3 * t, axis=1)[:, :width] + rng.normal(0, 8, (height, width, 3))
              for t in range(num_frames)]
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def full_decode(path: Path) -> np.ndarray:
    """Every frame of the file, decoded front to back with PyAV (what `read` must reproduce)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = []
        for packet in container.demux(stream):
            if packet.is_corrupt:
                frames += [f.to_ndarray(format="rgb24") for f in stream.decode(None)]
                break
            frames += [f.to_ndarray(format="rgb24") for f in packet.decode()]
    return np.stack(frames)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("gop")
    paths = {}
    for gop, num_frames in ((1, 40), (16, 70), (250, 260)):
        paths[gop] = root / f"gop{gop}.mp4"
        write_h264(paths[gop], moving_clip(num_frames, seed=gop), fps=30, gop=gop)
    return paths


INDEX_SETS = {
    "sparse": lambda n: (np.arange(8) * n // 8 + n // 16).tolist(),  # TSN segment centres
    "dense": lambda n: list(range(n // 3, n // 3 + 16)),
    "strided": lambda n: list(range(2, n, 4)),
    "unsorted": lambda n: [n - 1, 0, n // 2, 3, n // 2 + 1, 1],
    "duplicates": lambda n: [5, 5, 0, 5, n - 1, n - 1, 0],
    "all": lambda n: list(range(n)),
    "last": lambda n: [n - 1],
}


@pytest.mark.parametrize("gop", [1, 16, 250])
def test_read_equals_full_decode(videos, gop):
    reference = full_decode(videos[gop])
    with VideoReader(videos[gop]) as reader:
        assert reader.num_frames == len(reference)
        assert (reader.height, reader.width) == reference.shape[1:3]
        assert reader.fps == pytest.approx(30.0)
        for name, make in INDEX_SETS.items():
            indices = make(reader.num_frames)
            clip = reader.read(indices)
            assert clip.dtype == np.uint8 and clip.shape == (len(indices), *reference.shape[1:])
            assert np.array_equal(clip, reference[indices]), f"GOP {gop}, {name} indices differ from a full decode"
        assert reader.read([]).shape == (0, *reference.shape[1:])


def test_gop_is_measured(videos):
    for gop in (1, 16, 250):
        with VideoReader(videos[gop]) as reader:
            assert reader.gop == gop


def count_seeks(reader: VideoReader, monkeypatch) -> list[int]:
    seeks = []
    original = reader._frames_from_keyframe

    def counting(key_slot, target):
        seeks.append(target)
        return original(key_slot, target)

    monkeypatch.setattr(reader, "_frames_from_keyframe", counting)
    return seeks


def test_seek_rule_short_gop_seeks_per_frame(videos, monkeypatch):
    with VideoReader(videos[16]) as reader:
        seeks = count_seeks(reader, monkeypatch)
        reader.read([8, 40, 60])  # frames in three different GOPs, far apart: one seek each
        assert seeks == [8, 40, 60]
        seeks.clear()
        reader.read(list(range(20, 52, 2)))  # a dense clip decodes forward after a single seek
        assert seeks == [20]


def test_seek_rule_long_gop_decodes_forward(videos, monkeypatch):
    with VideoReader(videos[250]) as reader:
        seeks = count_seeks(reader, monkeypatch)
        reader.read([10, 100, 200, 240])  # one GOP: one seek, then forward
        assert seeks == [10]
        seeks.clear()
        reader.read([10, 255])  # frame 255 is past the keyframe at 250 and far ahead: seek there
        assert seeks == [10, 255]


def test_container_without_frame_count(tmp_path):
    """Matroska stores no frame count (header says 0): the count comes from the packets."""
    path = tmp_path / "clip.mkv"
    write_h264(path, moving_clip(30), fps=25, gop=8)
    reference = full_decode(path)
    with VideoReader(path) as reader:
        assert reader.header_num_frames == 0
        assert reader.num_frames == 30
        assert np.array_equal(reader.read([29, 0, 13]), reference[[29, 0, 13]])


def test_raw_stream_without_timestamps(tmp_path):
    """A raw H.264 elementary stream has no timestamps and cannot seek: decoded sequentially, still exact."""
    path = tmp_path / "clip.h264"
    write_h264(path, moving_clip(30), fps=25, gop=8)
    reference = full_decode(path)
    with VideoReader(path) as reader:
        assert reader.num_frames == 30
        assert np.array_equal(reader.read([29, 0, 7, 7]), reference[[29, 0, 7, 7]])
        assert np.array_equal(reader.read([3]), reference[[3]])  # a second read starts again from the top


def test_truncated_file_with_intact_header(tmp_path):
    """A faststart mp4 cut in half keeps its header (which now lies): read what is decodable, reject the rest."""
    path = tmp_path / "cut.mp4"
    write_h264(path, moving_clip(64), fps=25, gop=16, faststart=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    reference = full_decode(path)
    with VideoReader(path) as reader:
        assert reader.header_num_frames == 64
        assert reader.num_frames == len(reference) < 64
        indices = [reader.num_frames - 1, 0, reader.num_frames // 2]
        assert np.array_equal(reader.read(indices), reference[indices])
        with pytest.raises(IndexError, match="cut.mp4"):
            reader.read([reader.num_frames])


def test_out_of_range_indices_name_the_file(videos):
    with VideoReader(videos[16]) as reader:
        for bad in ([reader.num_frames], [-1], [0, 10_000]):
            with pytest.raises(IndexError, match="gop16.mp4"):
                reader.read(bad)


def write_audio_only(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_bad_files_raise_decode_error_naming_the_file(tmp_path, videos):
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    cut = tmp_path / "cut_index.mp4"  # moov at the end: cutting the file removes the index
    data = videos[16].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    audio = tmp_path / "audio.m4a"
    write_audio_only(audio)
    cases = {zero: "empty file", text: "cannot open", cut: "cannot open", audio: "no video stream",
             tmp_path / "missing.mp4": "no such file"}
    for path, reason in cases.items():
        with pytest.raises(VideoDecodeError, match=reason) as error:
            VideoReader(path)
        assert str(error.value).startswith(str(path))


def test_corrupt_packets_mid_stream_raise_decode_error(tmp_path):
    path = tmp_path / "garbled.mp4"
    write_h264(path, moving_clip(48), fps=25, gop=48, faststart=True)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    start = len(data) // 3  # past the header, inside the frame data
    data[start:start + 2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    # H.264 decoders conceal some corruption, so either every frame comes back or a VideoDecodeError naming the
    # file does; no other exception type may escape.
    try:
        with VideoReader(path) as reader:
            clip = reader.read(range(reader.num_frames))
        assert clip.shape == (reader.num_frames, 32, 48, 3)
    except VideoDecodeError as error:
        assert str(error).startswith(str(path))


def test_closed_reader_and_index_cache(videos):
    reader = VideoReader(videos[16])
    reader.close()
    with pytest.raises(VideoDecodeError, match="closed"):
        reader.read([0])
    cached = len(frame_index._index_cache)
    with VideoReader(videos[16]) as again:
        assert again.num_frames == 70
    assert len(frame_index._index_cache) == cached  # the second open reused the packet index
