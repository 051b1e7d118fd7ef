"""Re-encode videos for fast training reads: short side 256 (or 320), H.264 with a keyframe every 16 frames.

    python -m common.tools.reencode data/kinetics/videos --out data/kinetics/videos_256 --workers 8

Why: decoding cost grows with resolution (720p costs 7-15x more than 256p) and sparse sampling from long-GOP files
decodes hundreds of unused frames per seek; a 16-frame GOP lets `VideoReader` seek per frame (2-3x faster TSN
sampling, measured in ``shared/specs/anchors.md`` 2.6). This is MMAction2's ``resize_videos.py --dense`` recipe.

The ``ffmpeg`` binary is used when it is on PATH (``--backend auto``), else PyAV's bundled libx264. Both write
``yuv420p`` H.264 mp4 without audio, at the input's average frame rate, with every input frame kept (constant
frame rate), keyframes exactly every ``--gop`` frames (no scene-cut keyframes) and even frame sizes; videos whose
short side is already at most the target keep their size. Output mirrors the input tree with a ``.mp4`` suffix,
is written to a temporary file and renamed when complete; existing outputs are skipped unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType
from tqdm import tqdm

from common.data.video_reader import VideoDecodeError
from common.tools.check_videos import VIDEO_SUFFIXES
from common.tools.extract_frames import scaled_size


def ffmpeg_command(source: str, target: str, short_side: int, gop: int, crf: int) -> list[str]:
    """The ffmpeg call equivalent to `reencode_pyav`."""
    scale = (f"scale='if(gt(iw,ih),-2,min({short_side},iw))':'if(gt(iw,ih),min({short_side},ih),-2)'"
             ":flags=bicubic")
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", source, "-map", "0:v:0", "-an", "-vf",
            f"{scale},format=yuv420p", "-vsync", "cfr", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
            "-x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0", "-threads", "1", "-f", "mp4", target]


def reencode_pyav(source: str, target: str, short_side: int, gop: int, crf: int) -> int:
    """Decode ``source`` and encode it to ``target`` with PyAV; returns the number of frames written."""
    count = 0
    with av.open(source) as reader:
        if not reader.streams.video:
            raise VideoDecodeError(f"{source}: no video stream")
        stream_in = reader.streams.video[0]
        stream_in.codec_context.thread_count = 1
        width, height = scaled_size(stream_in.codec_context.width, stream_in.codec_context.height, short_side)
        with av.open(target, "w", format="mp4") as writer:
            rate = Fraction(stream_in.average_rate or stream_in.guessed_rate or 30)
            stream_out = writer.add_stream("libx264", rate=rate)
            stream_out.width, stream_out.height, stream_out.pix_fmt = width, height, "yuv420p"
            stream_out.options = {"crf": str(crf), "preset": "veryfast", "threads": "1",
                                  "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
            for frame in reader.decode(stream_in):
                scaled = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
                # Constant frame rate: frame n is shown at n / rate, whatever the input's timestamps were.
                scaled.pts, scaled.time_base = count, 1 / rate
                # A decoded keyframe keeps its picture type, which libx264 obeys as a forced keyframe: clear it so
                # the source's GOP does not carry over and keyframes fall exactly every ``gop`` frames.
                scaled.pict_type, scaled.key_frame = PictureType.NONE, False
                writer.mux(stream_out.encode(scaled))
                count += 1
            writer.mux(stream_out.encode(None))
    return count


def reencode(source: str, target: str, short_side: int = 256, gop: int = 16, crf: int = 23,
             backend: str = "auto") -> None:
    """Re-encode one file atomically; raises `VideoDecodeError` naming ``source`` when it cannot be read."""
    has_ffmpeg = shutil.which("ffmpeg") is not None
    if backend == "ffmpeg" and not has_ffmpeg:
        raise RuntimeError("--backend ffmpeg: no ffmpeg binary on PATH (use --backend pyav)")
    partial = target + ".partial.mp4"
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    try:
        if not os.path.isfile(source):
            raise VideoDecodeError(f"{source}: no such file")
        if backend == "ffmpeg" or (backend == "auto" and has_ffmpeg):
            done = subprocess.run(ffmpeg_command(source, partial, short_side, gop, crf), capture_output=True, text=True)
            if done.returncode != 0:
                raise VideoDecodeError(f"{source}: ffmpeg failed: {done.stderr.strip()[-500:]}")
        elif reencode_pyav(source, partial, short_side, gop, crf) == 0:
            raise VideoDecodeError(f"{source}: no frames decoded")
        os.replace(partial, target)
    except (av.FFmpegError, OSError) as error:
        raise VideoDecodeError(f"{source}: cannot re-encode ({error})") from error
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _reencode_one(job: tuple[str, str, int, int, int, str]) -> str:
    try:
        reencode(*job)
        return ""
    except VideoDecodeError as error:
        return str(error)


def _positive_even(text: str) -> int:
    value = int(text)
    if value < 2 or value % 2:
        raise argparse.ArgumentTypeError(f"{text}: the short side must be a positive even number (H.264 yuv420p)")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.tools.reencode", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="video files or folders (searched recursively)")
    parser.add_argument("--out", required=True, help="output root (mirrors the input tree)")
    parser.add_argument("--short-side", type=_positive_even, default=256,
                        help="target short side in pixels (256 and 320 are the usual choices; any even size works)")
    parser.add_argument("--gop", type=int, default=16, help="keyframe interval in frames")
    parser.add_argument("--crf", type=int, default=23, help="x264 quality (lower is better, larger)")
    parser.add_argument("--backend", choices=["auto", "pyav", "ffmpeg"], default="auto")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    parser.add_argument("--overwrite", action="store_true", help="re-encode files whose output exists")
    args = parser.parse_args(argv)
    jobs = []
    for item in args.inputs:
        if os.path.isdir(item):
            for path in sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
                jobs.append((str(path), str(Path(args.out) / path.relative_to(item).with_suffix(".mp4"))))
        else:
            jobs.append((item, str(Path(args.out) / Path(item).with_suffix(".mp4").name)))
    todo = [(s, t, args.short_side, args.gop, args.crf, args.backend) for s, t in jobs
            if args.overwrite or not os.path.exists(t)]
    with ProcessPoolExecutor(max(args.workers, 1)) as pool:
        results = tqdm(pool.map(_reencode_one, todo), total=len(todo), desc="re-encoding", unit="video")
        errors = [error for error in results if error]
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"re-encoded {len(todo) - len(errors)} videos into {args.out} (short side {args.short_side}, GOP {args.gop});"
          f" {len(jobs) - len(todo)} already done, {len(errors)} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
