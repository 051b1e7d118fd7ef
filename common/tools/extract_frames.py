"""Decode videos into JPEG frame folders (the "rawframes" layout of TSN, TSM and MMAction).

    python -m common.tools.extract_frames data/videos --out data/frames --short-side 256 --workers 8
    python -m common.tools.extract_frames clip.mp4 --out frames --template "{:05d}.jpg"

Every frame of ``video`` becomes ``OUT/<video stem>/<template>`` numbered from ``--start-index``, so frame ``i`` of
`common.data.video_reader.VideoReader` is file ``start_index + i`` and `FrameFolderReader` reads the same frames.
``--short-side S`` scales so the shorter side is ``S`` (aspect kept, even sizes, bicubic like ``ffmpeg -vf scale``);
smaller videos are never upscaled. The video's frame rate goes to ``fps.txt`` in the folder (`FrameFolderReader.fps`,
which PySlowFast-style samplers need to resample to a target fps). A folder is written under a temporary name and renamed when complete, so an
interrupted run leaves no half-extracted folder that looks finished; existing folders are skipped.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
from PIL import Image
from tqdm import tqdm

from common.data.frame_folder import FPS_FILE, FRAME_TEMPLATES
from common.data.video_reader import VideoDecodeError
from common.tools.check_videos import VIDEO_SUFFIXES


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """``(width, height)`` with the short side scaled to ``short_side`` (never up), both even."""
    if short_side is None or min(width, height) <= short_side:
        return width - width % 2, height - height % 2
    scale = short_side / min(width, height)
    even = lambda size: max(2, int(round(size * scale / 2)) * 2)  # noqa: E731
    return (short_side, even(height)) if width <= height else (even(width), short_side)


def extract_video(video: str | os.PathLike, out_folder: str | os.PathLike, template: str = "img_{:05d}.jpg",
                  short_side: int | None = None, start_index: int = 1, quality: int = 95) -> int:
    """Write every frame of ``video`` as a JPEG into ``out_folder``; returns the number of frames."""
    out_folder = Path(out_folder)
    partial = out_folder.with_name(out_folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    count = 0
    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{video}: no video stream")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            width, height = scaled_size(stream.codec_context.width, stream.codec_context.height, short_side)
            rate = stream.average_rate or stream.guessed_rate
            if rate:  # the folder's frame rate, for samplers that resample to a target fps
                (partial / FPS_FILE).write_text(f"{float(rate)!r}\n")
            for frame in container.decode(stream):
                array = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="BICUBIC")
                Image.fromarray(array).save(partial / template.format(start_index + count), quality=quality)
                count += 1
    except (av.FFmpegError, OSError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise VideoDecodeError(f"{video}: cannot decode ({error})") from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if count == 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise VideoDecodeError(f"{video}: no frames decoded")
    shutil.rmtree(out_folder, ignore_errors=True)
    partial.rename(out_folder)
    return count


def _extract_one(job: tuple[str, str, str, int | None, int, int]) -> tuple[str, int, str]:
    video, out_folder, *options = job
    if Path(out_folder).is_dir():
        return video, -1, ""
    try:
        return video, extract_video(video, out_folder, *options), ""
    except VideoDecodeError as error:
        return video, 0, str(error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.tools.extract_frames", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="video files or folders (searched recursively)")
    parser.add_argument("--out", required=True, help="output root; one folder per video, named by the video stem")
    parser.add_argument("--template", default="img_{:05d}.jpg",
                        help=f"frame file template; the datasets' own: {sorted(set(FRAME_TEMPLATES.values()))}")
    parser.add_argument("--start-index", type=int, default=1, help="number of the first frame file")
    parser.add_argument("--short-side", type=int, help="scale the short side to this size (never up)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    args = parser.parse_args(argv)
    videos: list[tuple[str, str]] = []  # (video, folder relative to --out)
    for item in args.inputs:
        if os.path.isdir(item):
            for path in sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
                videos.append((str(path), str(path.relative_to(item).with_suffix(""))))
        else:
            videos.append((item, Path(item).stem))
    jobs = [(video, os.path.join(args.out, name), args.template, args.short_side, args.start_index, args.quality)
            for video, name in videos]
    with ProcessPoolExecutor(max(args.workers, 1)) as pool:
        results = list(tqdm(pool.map(_extract_one, jobs), total=len(jobs), desc="extracting", unit="video"))
    failed = [message for _, count, message in results if message]
    for message in failed:
        print(f"error: {message}", file=sys.stderr)
    done = [count for _, count, message in results if count > 0]
    skipped = sum(count < 0 for _, count, _ in results)
    print(f"extracted {sum(done)} frames from {len(done)} videos into {args.out}; {skipped} already done, "
          f"{len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
