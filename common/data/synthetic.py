"""A synthetic motion dataset whose classes only temporal modelling can tell apart.

Each video shows one textured object (a square or a disc) moving over a textured background with per-frame noise,
along a random axis within 60 degrees of horizontal. The class is the order of motion: the number of back-and-forth
legs (1 to 4, all of the same length and duration) and whether the first leg goes right or left. The object moves on
a torus (it wraps around the frame edges) from a uniformly random start, so its position in any one frame is uniform
whatever the class, and over a clip it covers a random segment with uniform density whatever the class: single
frames and the unordered set of a clip's frames have the same distribution in every class. A frame-averaging model
(TSN) stays at chance and a frame-shuffled clip is ambiguous; the order of the frames decides the class.

Written under ``root``: ``videos/{id}.mp4`` (H.264 via libx264, keyframe every ``gop`` frames),
``frames/{id}/img_{:05d}.jpg``, an EPIC-KITCHENS layout ``epic/P01/rgb_frames/P01_NN/frame_{:010d}.jpg`` where
several clips are concatenated into one long video and annotated as segments, and ``annotations/`` with a file per
format of `common.data.annotations`. Class names are Something-Something style and sorted alphabetically (the
TSM category order), with "left to right" / "right to left" pairs for flip-with-label-swap (`flip_label_map`).

    python -m common.data.synthetic --out data/synthetic --num-classes 4 --videos-per-class 8
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from common.data import annotations as ann
from common.data.video_writer import write_h264

__all__ = ["SyntheticDataset", "SyntheticVideo", "Motion", "class_motions", "make_synthetic_dataset", "render_clip",
           "ANNOTATION_FORMATS", "MAX_CLASSES"]

ANNOTATION_FORMATS = ("slowfast_csv", "rawframes", "ssv2", "sthv1", "jester", "epic")
# (legs, name when the first leg goes right, name when it goes left); the order defines which classes a small K uses.
_PATTERNS = (
    (1, "Moving something from left to right", "Moving something from right to left"),
    (2, "Moving something to the right and back", "Moving something to the left and back"),
    (3, "Moving something back and forth starting to the right",
     "Moving something back and forth starting to the left"),
    (4, "Moving something back and forth twice starting to the right",
     "Moving something back and forth twice starting to the left"),
)
MAX_CLASSES = 2 * len(_PATTERNS)
NOUNS = ("square", "disc")
FRAME_TEMPLATE = "img_{:05d}.jpg"
EPIC_TEMPLATE = "frame_{:010d}.jpg"
_EPIC_CLIPS_PER_VIDEO = 8


@dataclass(frozen=True)
class Motion:
    """A class: ``legs`` equal back-and-forth legs along the video's axis, the first one rightwards if ``sign > 0``."""

    name: str
    legs: int
    sign: int


def class_motions(num_classes: int) -> list[Motion]:
    """The first ``num_classes`` motions, ordered like their (alphabetically sorted) class names."""
    if not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be in [2, {MAX_CLASSES}], got {num_classes}")
    motions = [Motion(name, legs, sign) for legs, *names in _PATTERNS for name, sign in zip(names, (1, -1))]
    return sorted(motions[:num_classes], key=lambda motion: motion.name)


@dataclass(frozen=True)
class SyntheticVideo:
    video_id: str
    label: int
    noun: int
    split: str


@dataclass
class SyntheticDataset:
    """What `make_synthetic_dataset` wrote. ``SyntheticDataset.load(root)`` reads it back from ``synthetic.json``."""

    root: Path
    num_classes: int
    class_names: list[str]
    num_frames: int
    height: int
    width: int
    fps: int
    gop: int
    formats: tuple[str, ...]
    videos: list[SyntheticVideo] = field(default_factory=list)
    noun_names: tuple[str, ...] = NOUNS
    frame_template: str = FRAME_TEMPLATE
    epic_frame_template: str = EPIC_TEMPLATE

    @property
    def flip_label_map(self) -> dict[int, int]:
        """Label swap under a horizontal flip, for the classes whose horizontal direction reverses."""
        index = {name: i for i, name in enumerate(self.class_names)}
        mapping = {}
        for i, name in enumerate(self.class_names):
            mirrored = name.replace("left", "\0").replace("right", "left").replace("\0", "right")
            if mirrored != name and mirrored in index:
                mapping[i] = index[mirrored]
        return mapping

    def split_videos(self, split: str) -> list[SyntheticVideo]:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return [video for video in self.videos if video.split == split]

    def video_path(self, video_id: str) -> Path:
        return self.root / "videos" / f"{video_id}.mp4"

    def frame_folder(self, video_id: str) -> Path:
        return self.root / "frames" / video_id

    def annotation_file(self, fmt: str, split: str) -> Path:
        """The list file of ``fmt`` (one of `ANNOTATION_FORMATS`) for ``split`` ("train" or "val")."""
        if fmt not in ANNOTATION_FORMATS:
            raise ValueError(f"unknown annotation format {fmt!r}; choose from {ANNOTATION_FORMATS}")
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        long_split = "train" if split == "train" else "validation"
        names = {
            "slowfast_csv": f"slowfast/{split}.csv", "rawframes": f"rawframes/{split}.txt",
            "ssv2": f"ssv2/something-something-v2-{long_split}.json",
            "sthv1": f"sthv1/something-something-v1-{long_split}.csv",
            "jester": f"jester/jester-v1-{long_split}.csv", "epic": f"epic/EPIC_100_{long_split}.csv",
        }
        return self.root / "annotations" / names[fmt]

    def category_file(self, fmt: str) -> Path:
        """The class-list file that goes with ``fmt`` (TSM ``category.txt`` for the formats without one)."""
        names = {"ssv2": "ssv2/something-something-v2-labels.json", "sthv1": "sthv1/something-something-v1-labels.csv",
                 "jester": "jester/jester-v1-labels.csv"}
        return self.root / "annotations" / names.get(fmt, "category.txt")

    def records(self, fmt: str, split: str) -> list[ann.VideoRecord]:
        """Parse ``annotation_file(fmt, split)`` with its reader; paths come out absolute."""
        file, frames = self.annotation_file(fmt, split), str(self.root / "frames")
        if fmt == "slowfast_csv":
            return ann.read_slowfast_csv(file, data_root=self.root, num_classes=self.num_classes)
        if fmt == "rawframes":
            return ann.read_rawframe_list(file, data_root=self.root, num_classes=self.num_classes)
        if fmt == "ssv2":
            return ann.read_ssv2(self.category_file(fmt), file, data_root=frames, num_classes=self.num_classes)
        if fmt in ("sthv1", "jester"):
            reader = ann.read_sthv1 if fmt == "sthv1" else ann.read_jester
            return reader(self.category_file(fmt), file, data_root=frames, num_classes=self.num_classes)
        return ann.read_epic100(file, data_root=self.root / "epic", num_verbs=self.num_classes,
                                num_nouns=len(self.noun_names))

    def summary(self) -> str:
        counts = {split: len(self.split_videos(split)) for split in ("train", "val")}
        lines = [f"synthetic dataset at {self.root}: {self.num_classes} classes, {counts['train']} train / "
                 f"{counts['val']} val videos, {self.num_frames} frames {self.width}x{self.height} @ {self.fps} fps, "
                 f"GOP {self.gop}, formats {list(self.formats)}"]
        lines += [f"  class {i}: {name}" for i, name in enumerate(self.class_names)]
        lines.append(f"  flip label map: {self.flip_label_map}")
        lines += [f"  {fmt:12s} {self.annotation_file(fmt, 'train')}" for fmt in ANNOTATION_FORMATS]
        return "\n".join(lines)

    def save(self) -> Path:
        manifest = asdict(self) | {"root": str(self.root), "videos": [asdict(v) for v in self.videos]}
        path = self.root / "synthetic.json"
        path.write_text(json.dumps(manifest, indent=1))
        return path

    @classmethod
    def load(cls, root: str | os.PathLike) -> SyntheticDataset:
        manifest = json.loads((Path(root) / "synthetic.json").read_text())
        manifest.update(root=Path(root), formats=tuple(manifest["formats"]), noun_names=tuple(manifest["noun_names"]),
                        videos=[SyntheticVideo(**video) for video in manifest["videos"]])
        return cls(**manifest)


def _smooth_texture(rng: np.random.Generator, height: int, width: int, cells: int, low: float,
                    high: float) -> np.ndarray:
    """A blocky colour texture: a ``cells x cells`` random grid upsampled to ``[height, width, 3]``."""
    grid = rng.uniform(low, high, size=(cells, cells, 3))
    rows = np.arange(height) * cells // height
    cols = np.arange(width) * cells // width
    return grid[rows][:, cols]  # [height, width, 3]


def render_clip(rng: np.random.Generator, motion: Motion, noun: int, num_frames: int, height: int,
                width: int) -> np.ndarray:
    """One clip, uint8 ``[num_frames, height, width, 3]``."""
    side = max(4, int(rng.uniform(0.2, 0.3) * min(height, width)))
    sprite = _smooth_texture(rng, side, side, 4, 60, 255)  # [side, side, 3]
    yy, xx = np.mgrid[:side, :side] + 0.5 - side / 2
    mask = np.ones((side, side), bool) if noun == 0 else (yy**2 + xx**2 <= (side / 2) ** 2)  # [side, side]
    background = _smooth_texture(rng, height, width, 8, 30, 75) + rng.uniform(-15, 15)  # [height, width, 3]
    angle = rng.uniform(-np.pi / 3, np.pi / 3)  # the axis of motion, within 60 degrees of horizontal
    axis = motion.sign * np.array([np.sin(angle), np.cos(angle)])  # (row, col) direction of the first leg
    span = rng.uniform(0.3, 0.6) * min(height, width)  # pixels covered by each leg
    phase = np.arange(num_frames) * motion.legs / max(num_frames - 1, 1)  # legs completed, [T]
    progress = 1 - np.abs(phase % 2 - 1)  # triangle wave: 0 -> 1 on even legs, 1 -> 0 on odd legs, [T]
    start = rng.uniform(0, [height, width])
    positions = np.floor(start + progress[:, None] * span * axis).astype(np.int64) % [height, width]  # [T, 2]
    noise_sigma = rng.uniform(2, 6)
    clip = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t, (row, col) in enumerate(positions):
        frame = background.copy()
        rows, cols = (row + np.arange(side)) % height, (col + np.arange(side)) % width
        patch = frame[np.ix_(rows, cols)]  # [side, side, 3]
        frame[np.ix_(rows, cols)] = np.where(mask[..., None], sprite, patch)
        frame += rng.normal(0, noise_sigma, size=frame.shape)
        clip[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return clip


def make_synthetic_dataset(root: str | os.PathLike, *, num_classes: int = 4, videos_per_class: int = 8,
                           num_frames: int = 32, height: int = 64, width: int = 64, fps: int = 25, gop: int = 16,
                           formats: tuple[str, ...] = ("mp4", "frames"), val_fraction: float = 0.25,
                           seed: int = 0) -> SyntheticDataset:
    """Write the dataset under ``root`` (created if needed) and return its description."""
    unknown = set(formats) - {"mp4", "frames"}
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of ('mp4', 'frames'), got {formats}")
    if height % 2 or width % 2:
        raise ValueError(f"height and width must be even for H.264 4:2:0, got {height}x{width}")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    motions = class_motions(num_classes)
    root = Path(root)
    dataset = SyntheticDataset(root, num_classes, [m.name for m in motions], num_frames, height, width, fps, gop,
                               tuple(formats))
    for sub in ("videos", "frames", "epic", "annotations"):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / "videos").mkdir(parents=True)
    num_val = int(videos_per_class * val_fraction + 0.5)
    seeds = np.random.SeedSequence(seed).spawn(num_classes * videos_per_class)
    for number, video_seed in enumerate(seeds):
        label, rank = divmod(number, videos_per_class)
        rng = np.random.default_rng(video_seed)
        noun = int(rng.integers(len(NOUNS)))
        video = SyntheticVideo(f"{number:06d}", label, noun, "val" if rank < num_val else "train")
        clip = render_clip(rng, motions[label], noun, num_frames, height, width)
        if "mp4" in formats:
            write_h264(dataset.video_path(video.video_id), clip, fps, gop)
        if "frames" in formats:
            folder = dataset.frame_folder(video.video_id)
            folder.mkdir(parents=True)
            for t, frame in enumerate(clip):
                Image.fromarray(frame).save(folder / FRAME_TEMPLATE.format(t + 1), quality=90)
        dataset.videos.append(video)
    _write_annotations(dataset)
    dataset.save()
    return dataset


def _write_annotations(dataset: SyntheticDataset) -> None:
    base = dataset.root / "annotations"
    for sub in ("slowfast", "rawframes", "ssv2", "sthv1", "jester", "epic"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    names = dataset.class_names
    (base / "category.txt").write_text("\n".join(names) + "\n")
    (base / "flip_label_map.json").write_text(json.dumps({str(k): v for k, v in dataset.flip_label_map.items()}))
    (base / "ssv2/something-something-v2-labels.json").write_text(
        json.dumps({name: str(i) for i, name in enumerate(names)}, indent=1))
    # The v1 release lists categories unsorted; TSM sorts them, which is what the reader does.
    (base / "sthv1/something-something-v1-labels.csv").write_text("\n".join(sorted(names, key=len)) + "\n")
    (base / "jester/jester-v1-labels.csv").write_text("\n".join(names) + "\n")
    for split in ("train", "val"):
        videos = dataset.split_videos(split)
        lines = [f"videos/{v.video_id}.mp4 {v.label}" for v in videos]
        dataset.annotation_file("slowfast_csv", split).write_text("".join(line + "\n" for line in lines))
        lines = [f"frames/{v.video_id} {dataset.num_frames} {v.label}" for v in videos]
        dataset.annotation_file("rawframes", split).write_text("".join(line + "\n" for line in lines))
        entries = [{"id": v.video_id, "label": names[v.label].replace("something", f"a {NOUNS[v.noun]}"),
                    "template": names[v.label].replace("something", "[something]"),
                    "placeholders": [f"a {NOUNS[v.noun]}"]} for v in videos]
        dataset.annotation_file("ssv2", split).write_text(json.dumps(entries, indent=1))
        lines = [f"{v.video_id};{names[v.label]}" for v in videos]
        for fmt in ("sthv1", "jester"):
            dataset.annotation_file(fmt, split).write_text("".join(line + "\n" for line in lines))
        _write_epic(dataset, split, videos)


def _write_epic(dataset: SyntheticDataset, split: str, videos: list[SyntheticVideo]) -> None:
    """Concatenate clips into long EPIC-style frame folders and annotate each clip as a narration segment."""
    columns = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
               "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class",
               "all_nouns", "all_noun_classes"]
    participant = "P01" if split == "train" else "P02"
    rows = []
    for number, video in enumerate(videos):
        long_id = f"{participant}_{number // _EPIC_CLIPS_PER_VIDEO + 1:02d}"
        start = (number % _EPIC_CLIPS_PER_VIDEO) * dataset.num_frames + 1
        stop = start + dataset.num_frames - 1
        if "frames" in dataset.formats:
            folder = dataset.root / "epic" / participant / "rgb_frames" / long_id
            folder.mkdir(parents=True, exist_ok=True)
            for t in range(dataset.num_frames):
                shutil.copyfile(dataset.frame_folder(video.video_id) / FRAME_TEMPLATE.format(t + 1),
                                folder / EPIC_TEMPLATE.format(start + t))
        stamp = lambda frame: f"00:00:{frame / dataset.fps:06.3f}"  # noqa: E731
        verb, noun = dataset.class_names[video.label], NOUNS[video.noun]
        rows.append([f"{long_id}_{number}", participant, long_id, stamp(start), stamp(start), stamp(stop), start, stop,
                     f"{verb.lower()}, {noun}", verb.split()[0].lower(), video.label, noun, video.noun, f"['{noun}']",
                     f"[{video.noun}]"])
    with open(dataset.annotation_file("epic", split), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m common.data.synthetic", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-classes", type=int, default=4, help=f"2..{MAX_CLASSES}")
    parser.add_argument("--videos-per-class", type=int, default=8)
    parser.add_argument("--num-frames", type=int, default=32)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--gop", type=int, default=16, help="keyframe interval of the mp4s")
    parser.add_argument("--formats", nargs="+", default=["mp4", "frames"], choices=["mp4", "frames"])
    parser.add_argument("--val-fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    dataset = make_synthetic_dataset(args.out, num_classes=args.num_classes, videos_per_class=args.videos_per_class,
                                     num_frames=args.num_frames, height=args.height, width=args.width, fps=args.fps,
                                     gop=args.gop, formats=tuple(args.formats), val_fraction=args.val_fraction,
                                     seed=args.seed)
    print(dataset.summary())


if __name__ == "__main__":
    main()
