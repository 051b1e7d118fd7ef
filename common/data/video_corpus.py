"""A small corpus of awkward video files, written with PyAV at test time (no downloads, nothing committed).

Each case is a container/codec pairing or a stream oddity that has made frame-index readers return the wrong frame:
B-frames, open GOPs, edit lists (what a stream-copied cut writes), variable frame rate, MPEG-TS and MPEG-PS
timestamps, truncated files. Frames are 64x48 and at most 100 per file, so the whole corpus takes a few seconds.
A case whose encoder this PyAV build lacks is reported by `missing_encoder` so the test can skip with the reason.
The reader's tests use it (``tests/data/test_video_corpus.py``); to write it for a look at another reader::

    python -m common.data.video_corpus --out /tmp/corpus
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

HEIGHT, WIDTH = 48, 64


def moving_clip(num_frames: int, seed: int = 0) -> np.ndarray:
    """A textured pattern drifting right plus noise, so every frame differs: uint8 [T, 48, 64, 3]."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, size=(HEIGHT, WIDTH * 2, 3)).astype(np.float32)
    frames = [np.roll(texture, 3 * t, axis=1)[:, :WIDTH] + rng.normal(0, 12, (HEIGHT, WIDTH, 3))
              for t in range(num_frames)]
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Case:
    """One corpus file: ``codec`` encodes ``frames`` frames into ``suffix``; ``post`` rewrites the file after."""

    name: str
    suffix: str
    codec: str
    frames: int
    options: dict[str, str] = field(default_factory=dict)
    gop: int = 12
    max_b_frames: int = 0
    pix_fmt: str = "yuv420p"
    vfr: bool = False  # timestamps with irregular gaps (time base 1/1000)
    container_options: dict[str, str] = field(default_factory=dict)
    audio_first: bool = False  # an AAC stream as stream 0, interleaved with the video
    post: Callable[[Path], Path] | None = None  # rewrites the written file (edit list, truncation)


NO_SCENECUT = {"sc_threshold": "1000000000"}  # the noisy clip would otherwise make every P-frame an I-frame


def _x264(gop: int, extra: str = "") -> dict[str, str]:
    return {"preset": "veryfast", "threads": "1", "crf": "20",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=3:b-adapt=0{extra}"}


def _x265(gop: int, extra: str = "") -> dict[str, str]:
    return {"preset": "ultrafast", "crf": "24",
            "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=3:pools=1:frame-threads=1:log-level=error"
                           f"{extra}"}


def write(path: Path, case: Case, clip: np.ndarray) -> None:
    with av.open(str(path), "w", options=dict(case.container_options)) as container:
        audio = container.add_stream("aac", rate=16000) if case.audio_first else None
        stream = container.add_stream(case.codec, rate=30)
        stream.height, stream.width = clip.shape[1:3]
        stream.pix_fmt = case.pix_fmt
        if case.options:
            stream.options = dict(case.options)
        codec_context = stream.codec_context
        codec_context.gop_size = case.gop
        if case.max_b_frames:
            codec_context.max_b_frames = case.max_b_frames
        if case.vfr:
            stream.time_base = codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for index, array in enumerate(clip):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if case.vfr:
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                pts += (20, 33, 50, 41)[index % 4]  # irregular gaps, never equal neighbours
            container.mux(stream.encode(frame))
            if audio is not None:  # about one video frame of silence
                samples = av.AudioFrame.from_ndarray(np.zeros((1, 533), np.float32), format="fltp", layout="mono")
                samples.sample_rate, samples.pts = 16000, index * 533
                container.mux(audio.encode(samples))
        container.mux(stream.encode(None))
        if audio is not None:
            container.mux(audio.encode(None))


def remux_shifted(path: Path, shift_frames: int = 5) -> Path:
    """Remux with every pts and dts moved ``shift_frames`` frames earlier, as a stream-copied cut writes it: the mp4
    muxer turns the negative start into an edit list and the demuxer discards the frames before it."""
    out = path.with_name(path.stem + "_cut" + path.suffix)
    with av.open(str(path)) as source, av.open(str(out), "w") as target:
        in_stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(in_stream)
        step = int(round(1 / (in_stream.average_rate * in_stream.time_base)))
        for packet in source.demux(in_stream):
            if packet.size == 0:
                continue
            packet.pts -= shift_frames * step
            if packet.dts is not None:  # Matroska stores no dts
                packet.dts -= shift_frames * step
            packet.stream = out_stream
            target.mux(packet)
    return out


def cut_at_second_keyframe(path: Path) -> Path:
    """Remux from the second keyframe on, as a cut at an open-GOP keyframe leaves it: the first frames in decode
    order show before the keyframe and reference the dropped GOP (mp4 flags them discard, Matroska does not)."""
    out = path.with_name(path.stem + "_gopcut" + path.suffix)
    with av.open(str(path)) as source, av.open(str(out), "w") as target:
        in_stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(in_stream)
        keyframes = 0
        for packet in source.demux(in_stream):
            keyframes += packet.is_keyframe
            if packet.size == 0 or keyframes < 2:
                continue
            packet.stream = out_stream
            target.mux(packet)
    return out


def truncate(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


CASES = (
    Case("mp4_h264_bframes", ".mp4", "libx264", 70, _x264(16), gop=16),
    Case("mp4_h264_edit_list", ".mp4", "libx264", 90, _x264(16), gop=16, post=remux_shifted),
    Case("mp4_h264_open_gop", ".mp4", "libx264", 80, _x264(20, ":open-gop=1"), gop=20),
    Case("mp4_h264_vfr", ".mp4", "libx264", 60, _x264(12), gop=12, vfr=True),
    Case("mp4_h264_truncated", ".mp4", "libx264", 80, _x264(10), gop=10, container_options={"movflags": "faststart"},
         post=truncate),
    Case("mkv_h264_edit_shift", ".mkv", "libx264", 60, _x264(12), gop=12, post=remux_shifted),
    Case("mkv_hevc_open_gop", ".mkv", "libx265", 60, _x265(16, ":open-gop=1"), gop=16),
    Case("mkv_hevc_open_gop_cut", ".mkv", "libx265", 60, _x265(16, ":open-gop=1"), gop=16,
         post=cut_at_second_keyframe),
    Case("mkv_h264_open_gop_cut", ".mkv", "libx264", 80, _x264(20, ":open-gop=1"), gop=20,
         post=cut_at_second_keyframe),
    Case("mp4_hevc_open_gop_cut", ".mp4", "libx265", 60, _x265(16, ":open-gop=1"), gop=16,
         post=cut_at_second_keyframe),
    Case("mp4_hevc", ".mp4", "libx265", 50, _x265(10, ":open-gop=0"), gop=10),
    Case("ts_h264_gop20", ".ts", "libx264", 100, _x264(20), gop=20),
    Case("ts_h264_truncated", ".ts", "libx264", 80, _x264(16), gop=16, post=truncate),
    Case("mpg_mpeg2_gop12", ".mpg", "mpeg2video", 60, NO_SCENECUT, gop=12, max_b_frames=2),
    Case("ts_mpeg2_gop12", ".ts", "mpeg2video", 60, NO_SCENECUT, gop=12, max_b_frames=2),
    Case("avi_mpeg4", ".avi", "mpeg4", 60, NO_SCENECUT, gop=12),
    Case("avi_mpeg4_bframes", ".avi", "mpeg4", 60, NO_SCENECUT, gop=12, max_b_frames=2),
    Case("mp4_mpeg4_bframes", ".mp4", "mpeg4", 60, NO_SCENECUT, gop=12, max_b_frames=2),
    Case("avi_mjpeg", ".avi", "mjpeg", 30, {}, gop=1, pix_fmt="yuvj420p"),
    Case("webm_vp9", ".webm", "libvpx-vp9", 60, {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
         gop=15),
    Case("webm_vp9_altref", ".webm", "libvpx-vp9", 50, {"deadline": "good", "cpu-used": "8", "auto-alt-ref": "1",
                                                         "lag-in-frames": "16"}, gop=25),
    Case("mkv_h264_vfr", ".mkv", "libx264", 60, _x264(12), gop=12, vfr=True),
    Case("mkv_h264_audio_first", ".mkv", "libx264", 40, _x264(10), gop=10, audio_first=True),
    Case("mp4_h264_one_frame", ".mp4", "libx264", 1, _x264(10), gop=10),
    Case("mp4_h264_two_frames", ".mp4", "libx264", 2, _x264(10), gop=10),
    Case("webm_vp8", ".webm", "libvpx", 40, {"deadline": "realtime", "cpu-used": "8"}, gop=10),
    Case("mkv_av1", ".mkv", "libsvtav1", 30, {"preset": "12"}, gop=10),
)


def missing_encoder(case: Case) -> str | None:
    """Why ``case`` cannot be written with this PyAV build, or None."""
    try:
        av.codec.Codec(case.codec, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return f"this PyAV build has no {case.codec} encoder"
    return None


def make(directory: Path, case: Case, seed: int = 0) -> Path:
    path = directory / f"{case.name}{case.suffix}"
    write(path, case, moving_clip(case.frames, seed=seed))
    return case.post(path) if case.post else path


def full_decode(path: Path) -> np.ndarray:
    """Every frame a plain front-to-back PyAV decode yields (what a frame-exact reader must reproduce).

    One decoder thread, as the reader uses by default: intact frames decode the same with any thread count, but the
    concealment of a damaged frame (the partial last packet of a truncated file) depends on it."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        frames = []
        for packet in container.demux(stream):
            if packet.is_corrupt:  # a truncated file: drain what the decoder holds and stop
                frames += [frame.to_ndarray(format="rgb24") for frame in stream.decode(None)]
                break
            frames += [frame.to_ndarray(format="rgb24") for frame in packet.decode()]
    return np.stack(frames)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m common.data.video_corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files into")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        reason = missing_encoder(case)
        print(f"{case.name}: skipped, {reason}" if reason else f"{make(args.out, case)}")


if __name__ == "__main__":
    main()
