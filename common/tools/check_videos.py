"""Find videos that will fail or mislead training: undecodable, truncated, or with a frame count the header gets wrong.

Run it once over a dataset before training (the anchors' users lose days to a bad file found mid-epoch)::

    python -m common.tools.check_videos data/kinetics/videos --report bad_videos.csv --workers 8
    python -m common.tools.check_videos --list data/kinetics/train.csv --data-root data/kinetics --num-classes 400 \
        --report r.json

Each file is opened with `common.data.video_reader.VideoReader` (the reader training uses) and every frame is
decoded (``--decode all``, the default and the recommended mode: a corrupt packet in the middle of a stream only
shows when that stretch is decoded). ``--decode ends`` decodes only the first and last frame: it finds unreadable
and truncated files much faster but passes mid-stream corruption. Measured with one worker on a shared 2-core CPU
over a generated list of H.264 clips of 10 s at 30 fps, 340x256, a keyframe every 250 frames (Kinetics-like): {TIMING}
per clip; 240k such clips take about 20 hours with 8 workers in full, 2 hours with ends. Status per file: ``ok``; ``error``
(cannot be opened or decoded; the reason is in the report); ``mismatch`` (decodable, but the container header's
frame count differs from the packets by more than ``--tolerance`` frames, typically a truncated download). With
``--list`` the list itself is checked first (format, and labels in ``[0, --num-classes)``), and an error names the
file and line. The report (csv or json, by suffix) lists every file; the exit status is 1 when any file is not ok,
2 when the list is malformed.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from common.data.annotations import AnnotationError, read_slowfast_csv
from common.data.video_reader import VideoDecodeError, VideoReader

TIMING = "all 2.4 s, ends 0.22 s"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")


@dataclass
class VideoCheck:
    path: str
    status: str  # "ok", "mismatch" or "error"
    num_frames: int = 0
    header_num_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    gop: int = 0
    message: str = ""


def check_video(path: str, decode: str = "all", tolerance: int = 1) -> VideoCheck:
    """Open, index and decode one file; never raises for a bad file."""
    try:
        with VideoReader(path) as reader:
            result = VideoCheck(path, "ok", reader.num_frames, reader.header_num_frames, reader.fps or 0.0,
                                reader.width, reader.height, reader.gop)
            indices = range(reader.num_frames) if decode == "all" else sorted({0, reader.num_frames - 1})
            for start in range(0, len(indices), 64):  # bounded memory for long videos
                reader.read(list(indices[start:start + 64]))
    except (VideoDecodeError, IndexError) as error:
        return VideoCheck(path, "error", message=str(error))
    if result.header_num_frames and abs(result.header_num_frames - result.num_frames) > tolerance:
        result.status = "mismatch"
        result.message = (f"{path}: header says {result.header_num_frames} frames, {result.num_frames} decodable"
                          f"{' (truncated?)' if result.num_frames < result.header_num_frames else ''}")
    return result


def collect_paths(inputs: list[str], list_file: str | None, data_root: str | None, separator: str,
                  num_classes: int | None = None) -> list[str]:
    """Video files under the given folders, the given files, and the videos of the PySlowFast csv ``list_file``
    (whose format and labels are checked: ``AnnotationError`` names the file and line)."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths += sorted(str(p) for p in Path(item).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            paths.append(item)  # a missing file is reported as an error, not skipped
    if list_file:
        paths += [r.path for r in read_slowfast_csv(list_file, data_root=data_root, separator=separator,
                                                    num_classes=num_classes)]
    return paths


def check_all(paths: list[str], decode: str = "all", tolerance: int = 1, workers: int = 1) -> list[VideoCheck]:
    """Check every path (in ``workers`` processes), in input order, with a progress bar."""
    if workers <= 1:
        return [check_video(p, decode, tolerance) for p in tqdm(paths, desc="checking videos", unit="video")]
    with ProcessPoolExecutor(workers) as pool:
        jobs = pool.map(check_video, paths, [decode] * len(paths), [tolerance] * len(paths), chunksize=4)
        return list(tqdm(jobs, total=len(paths), desc="checking videos", unit="video"))


def write_report(results: list[VideoCheck], path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(r) for r in results]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1))
        return
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(VideoCheck.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.tools.check_videos", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     epilog=__doc__.split("\n\n", 3)[3].replace("{TIMING}", TIMING))
    parser.add_argument("inputs", nargs="*", help="video files or folders (searched recursively)")
    parser.add_argument("--list", help="annotation list whose first field is a video path (PySlowFast csv)")
    parser.add_argument("--data-root", help="prefix for relative paths in --list")
    parser.add_argument("--separator", "--path-label-separator", dest="separator", default=" ",
                        help="field separator of --list (PySlowFast's DATA.PATH_LABEL_SEPARATOR)")
    parser.add_argument("--num-classes", type=int, default=None,
                        help="with --list: every label must be in [0, N) (otherwise exit 2 naming the line)")
    parser.add_argument("--decode", choices=["all", "ends"], default="all",
                        help=f"all: decode every frame (recommended; finds mid-stream corruption); ends: only the "
                             f"first and last frame (faster, misses it). Per 10-s 340x256 clip and worker: {TIMING}")
    parser.add_argument("--tolerance", type=int, default=1, help="allowed header/packet frame-count difference")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    parser.add_argument("--report", default="video_check.csv", help="report file (.csv or .json)")
    args = parser.parse_args(argv)
    try:
        paths = collect_paths(args.inputs, args.list, args.data_root, args.separator, args.num_classes)
    except (AnnotationError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not paths:
        parser.error("no videos given (pass files, folders or --list)")
    results = check_all(paths, args.decode, args.tolerance, args.workers)
    write_report(results, args.report)
    bad = [r for r in results if r.status != "ok"]
    for result in bad:
        print(f"{result.status}: {result.message}", file=sys.stderr)
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "mismatch", "error")}
    print(f"checked {len(results)} videos: {counts['ok']} ok, {counts['mismatch']} mismatch, {counts['error']} error;"
          f" report: {args.report}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
