"""Write annotation lists (and class-index maps) from a folder tree or from a dataset's released label files.

From a class-folder tree ``ROOT/<class name>/<video file or frame folder>`` (Kinetics, UCF101, HMDB51 layout)::

    python -m common.tools.build_lists folders data/k400/train --format slowfast_csv --out train.csv \\
        --classes-out classes.txt
    python -m common.tools.build_lists folders data/k400/val --format slowfast_csv --out val.csv --classes classes.txt
    python -m common.tools.build_lists folders data/k400/frames --format rawframes --out train.txt

Class indices follow the sorted class-folder names (PySlowFast and MMAction do the same); pass ``--classes`` to reuse
the map of another split. From Something-Something v1/v2 or Jester label files plus extracted frames, the TSM
``gen_label`` equivalent (``folder num_frames label`` lists with counted frames, and ``category.txt``)::

    python -m common.tools.build_lists ssv2 --labels something-something-v2-labels.json \\
        --split something-something-v2-train.json --frames-root data/ssv2/frames --template "{:06d}.jpg" \\
        --out train_videofolder.txt --classes-out category.txt

From the official split files of UCF101 (``classInd.txt`` + ``trainlist0N.txt`` / ``testlist0N.txt``) or HMDB51
(``testTrainMulti_7030_splits/<class>_test_splitN.txt``), with **0-based** labels (UCF101's class ids are 1-based;
PySlowFast uses a csv label as the class index directly)::

    python -m common.tools.build_lists ucf101 --labels ucfTrainTestlist/classInd.txt \
        --split ucfTrainTestlist/trainlist01.txt --out ucf101/train.csv --classes-out ucf101/classes.txt
    python -m common.tools.build_lists hmdb51 --split testTrainMulti_7030_splits --split-id 1 --subset test \
        --out hmdb51/test.csv
    python -m common.tools.build_lists ucf101 --labels classInd.txt --split testlist01.txt --format rawframes \
        --frames-root data/ucf101/frames --out test_frames.txt     # frame folders named like the videos

Paths in the lists are relative to the tree root / frames root (give that root as ``--data-root`` when training),
or absolute with ``--absolute``. A missing or empty frame folder is an error naming it, unless ``--skip-missing``.
A path that contains the separator (Kinetics class names have spaces: ``air drumming/``) is written in double
quotes, csv-style, which every reader of ``common.data.annotations`` accepts; for tools that split lines blindly
(PySlowFast itself), choose a separator no path contains, e.g. ``--separator ,`` here and
``--path-label-separator ,`` (PySlowFast: ``DATA.PATH_LABEL_SEPARATOR``) when training.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tqdm import tqdm

from common.data import annotations as ann
from common.data.frame_folder import FrameFolderError, count_frames
from common.tools.check_videos import VIDEO_SUFFIXES


def scan_class_folders(root: str | os.PathLike, kind: str, class_names: list[str] | None = None
                       ) -> tuple[list[tuple[str, int]], list[str]]:
    """``[(relative path, label)]`` of the videos (``kind="videos"``) or frame folders under ``root/<class>/``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    if class_names is None:
        class_names = found
    unknown = sorted(set(found) - set(class_names))
    if unknown:
        raise ValueError(f"{root}: class folders {unknown[:5]} are not in the given class list")
    items = []
    for label, name in enumerate(class_names):
        folder = root / name
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if (kind == "videos" and entry.suffix.lower() in VIDEO_SUFFIXES) or (kind == "frames" and entry.is_dir()):
                items.append((str(entry.relative_to(root)), label))
    return items, class_names


def frame_counts(root: str | os.PathLike, folders: list[str], template: str, skip_missing: bool) -> list[int | None]:
    """Frames per folder (None for a missing or empty folder when ``skip_missing``)."""
    counts = []
    for folder in tqdm(folders, desc="counting frames", unit="folder"):
        try:
            count = count_frames(Path(root) / folder, template)
        except FrameFolderError:
            count = 0
        if count == 0 and not skip_missing:
            raise FrameFolderError(f"{Path(root) / folder}: missing or has no frames named like {template!r} "
                                   "(--skip-missing leaves it out)")
        counts.append(count or None)
    return counts


def quote(path: str, separator: str) -> str:
    """``path`` as a list field: in double quotes (inner quotes doubled) when it holds the separator or a quote."""
    if separator in path or '"' in path:
        return '"' + path.replace('"', '""') + '"'
    return path


def write_list(path: str | os.PathLike, rows: list[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(row + "\n" for row in rows), encoding="utf-8")


def build_from_folders(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    given = ann.read_class_names(args.classes) if args.classes else None
    kind = "videos" if args.format == "slowfast_csv" else "frames"
    items, class_names = scan_class_folders(args.root, kind, given)
    if not items:
        raise FileNotFoundError(f"{args.root}: no {kind} found under <class>/ folders")
    paths = [os.path.join(os.path.abspath(args.root), p) if args.absolute else p for p, _ in items]
    if kind == "videos":
        return [f"{quote(path, args.separator)}{args.separator}{label}" for path, (_, label) in zip(paths, items)], \
            class_names
    counts = frame_counts(args.root, [p for p, _ in items], args.template, args.skip_missing)
    rows = [f"{quote(path, ' ')} {count} {label}" for path, count, (_, label) in zip(paths, counts, items) if count]
    return rows, class_names


def build_from_release(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    if args.source == "ssv2":
        records = ann.read_ssv2(args.labels, args.split)
        class_names = ann.read_class_names(args.labels)
    else:
        reader = ann.read_sthv1 if args.source == "sthv1" else ann.read_jester
        records = reader(args.labels, args.split, sort_categories=args.source == "sthv1")
        class_names = ann.read_class_names(args.labels)
        class_names = sorted(class_names) if args.source == "sthv1" else class_names
    counts = frame_counts(args.frames_root, [r.path for r in records], args.template, args.skip_missing)
    root = os.path.abspath(args.frames_root)
    rows = [f"{quote(os.path.join(root, r.path) if args.absolute else r.path, ' ')} {count} {r.label}"
            for r, count in zip(records, counts) if count]
    return rows, class_names


def read_ucf101_split(class_index: str | os.PathLike, split_file: str | os.PathLike
                      ) -> tuple[list[tuple[str, int]], list[str]]:
    """``[(path, 0-based label)]`` of a UCF101 ``trainlist0N.txt`` (``Class/v_x.avi 1``) or ``testlist0N.txt``
    (``Class/v_x.avi``, labelled by its folder), and the class names of ``classInd.txt`` (``1 ApplyEyeMakeup``)."""
    class_names = []
    for number, line in ann._lines(class_index):
        fields = line.split()
        if len(fields) != 2 or not fields[0].isdigit() or int(fields[0]) != len(class_names) + 1:
            raise ann.AnnotationError(class_index, number, f"expected '{len(class_names) + 1} <class name>' "
                                      f"(classInd.txt numbers classes from 1 in order), got {line!r}")
        class_names.append(fields[1])
    by_folder = {name.lower(): label for label, name in enumerate(class_names)}
    items = []
    for number, line in ann._lines(split_file):
        fields = line.split()
        folder = fields[0].replace("\\", "/").split("/")[0].lower()
        if len(fields) not in (1, 2) or folder not in by_folder:
            raise ann.AnnotationError(split_file, number, f"expected '<class>/<video> [class id]' with a class of "
                                      f"{class_index}, got {line!r}")
        label = by_folder[folder]
        if len(fields) == 2 and int(fields[1]) != label + 1:
            raise ann.AnnotationError(split_file, number, f"class id {fields[1]} disagrees with the folder "
                                      f"{fields[0].split('/')[0]!r} (id {label + 1} in {class_index})")
        items.append((fields[0].replace("\\", "/"), label))
    return items, class_names


def read_hmdb51_split(splits_dir: str | os.PathLike, split_id: int, subset: str
                      ) -> tuple[list[tuple[str, int]], list[str]]:
    """``[(class/video.avi, 0-based label)]`` of HMDB51's split ``split_id`` (1-3), ``subset`` "train" (id 1 in the
    per-class files ``<class>_test_split<N>.txt``) or "test" (id 2; id 0 marks unused videos). Classes are the
    sorted class names, the usual HMDB51 order."""
    files = sorted(Path(splits_dir).glob(f"*_test_split{split_id}.txt"))
    if not files:
        raise FileNotFoundError(f"{splits_dir}: no <class>_test_split{split_id}.txt files")
    wanted = {"train": "1", "test": "2"}[subset]
    class_names = [f.name[:-len(f"_test_split{split_id}.txt")] for f in files]
    items = []
    for label, (name, path) in enumerate(zip(class_names, files)):
        for number, line in ann._lines(path):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ann.AnnotationError(path, number, f"expected '<video> <0|1|2>', got {line!r}")
            if fields[1] == wanted:
                items.append((f"{name}/{fields[0]}", label))
    return items, class_names


def build_from_official_split(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    if args.source == "ucf101":
        items, class_names = read_ucf101_split(args.labels, args.split)
    else:
        items, class_names = read_hmdb51_split(args.split, args.split_id, args.subset)
    if args.format == "slowfast_csv":
        root = os.path.abspath(args.root or ".")
        return [f"{quote(os.path.join(root, p) if args.absolute else p, args.separator)}{args.separator}{label}"
                for p, label in items], class_names
    folders = [os.path.splitext(p)[0] for p, _ in items]  # frame folders are named like the videos
    counts = frame_counts(args.frames_root, folders, args.template, args.skip_missing)
    root = os.path.abspath(args.frames_root)
    return [f"{quote(os.path.join(root, f) if args.absolute else f, ' ')} {count} {label}"
            for f, count, (_, label) in zip(folders, counts, items) if count], class_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.tools.build_lists", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("source", choices=["folders", "ssv2", "sthv1", "jester", "ucf101", "hmdb51"],
                        help="a class-folder tree, or a dataset's released label / split files")
    parser.add_argument("root", nargs="?", help="(folders) the tree root holding one folder per class; (ucf101, "
                        "hmdb51) the video root that --absolute paths start from")
    parser.add_argument("--format", choices=["slowfast_csv", "rawframes"], default="slowfast_csv",
                        help="(folders, ucf101, hmdb51) 'path label' for videos or 'folder num_frames label' for "
                        "frame folders")
    parser.add_argument("--classes", help="(folders) reuse this class list (one name per line) for the labels")
    parser.add_argument("--labels", help="(ssv2/sthv1/jester) the category file: labels json or labels csv; "
                        "(ucf101) classInd.txt")
    parser.add_argument("--split", help="(ssv2/sthv1/jester) the split file: train/validation json or csv; (ucf101) "
                        "trainlist0N.txt or testlist0N.txt; (hmdb51) the folder of the per-class split files")
    parser.add_argument("--split-id", type=int, choices=(1, 2, 3), default=1, help="(hmdb51) which of the 3 splits")
    parser.add_argument("--subset", choices=("train", "test"), default="train", help="(hmdb51) which videos")
    parser.add_argument("--frames-root", help="(ssv2/sthv1/jester, and ucf101/hmdb51 with rawframes) folder holding "
                        "the frame folders (ucf101/hmdb51: <class>/<video name without extension>)")
    parser.add_argument("--template", default="img_{:05d}.jpg", help="frame file template, for counting frames")
    parser.add_argument("--separator", default=" ",
                        help="field separator of slowfast_csv lists (paths that contain it are double-quoted)")
    parser.add_argument("--absolute", action="store_true", help="write absolute paths")
    parser.add_argument("--skip-missing", action="store_true", help="leave out missing or empty frame folders")
    parser.add_argument("--out", required=True, help="list file to write")
    parser.add_argument("--classes-out", help="write the class names, one per line in label order")
    args = parser.parse_args(argv)
    if args.source == "folders" and not args.root:
        parser.error("folders: give the tree root")
    if args.source in ("ssv2", "sthv1", "jester") and not (args.labels and args.split and args.frames_root):
        parser.error(f"{args.source}: --labels, --split and --frames-root are required")
    if args.source in ("ucf101", "hmdb51"):
        needed = {"--split": args.split, **({"--labels": args.labels} if args.source == "ucf101" else {}),
                  **({"--frames-root": args.frames_root} if args.format == "rawframes" else {})}
        missing = [flag for flag, value in needed.items() if not value]
        if missing:
            parser.error(f"{args.source}: {', '.join(missing)} required")
    builders = {"folders": build_from_folders, "ucf101": build_from_official_split,
                "hmdb51": build_from_official_split}
    try:
        rows, class_names = builders.get(args.source, build_from_release)(args)
    except (OSError, ValueError, FrameFolderError) as error:  # AnnotationError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_list(args.out, rows)
    if args.classes_out:
        write_list(args.classes_out, class_names)
    print(f"wrote {len(rows)} entries ({len(class_names)} classes) to {args.out}"
          + (f"; class list: {args.classes_out}" if args.classes_out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
